package config

import (
	"bytes"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config/brandtest"
)

func TestBrandingExampleValidates(t *testing.T) {
	c, err := Load("../../examples/branding/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(catalog(t), func(string) SecretOrigin { return SecretMissing }); err != nil {
		t.Fatalf("the branding example must validate: %v", err)
	}
	a, problems := c.CheckBranding()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	// Relative to the config file, not to the test's folder.
	if want, _ := filepath.Abs("../../examples/branding/logo.svg"); c.Branding.Logo != want {
		t.Fatalf("logo path %q, want %q", c.Branding.Logo, want)
	}
	svg, _ := os.ReadFile("../../examples/branding/logo.svg")
	if a.Logo.Type != SVG || !bytes.Equal(a.Logo.Data, svg) || a.Logo.Width != 120 || a.Logo.Height != 40 {
		t.Fatalf("logo %s %dx%d", a.Logo.Type, a.Logo.Width, a.Logo.Height)
	}
	if a.Favicon.Type != PNG || a.Favicon.Width != 32 {
		t.Fatalf("favicon %s %dx%d", a.Favicon.Type, a.Favicon.Width, a.Favicon.Height)
	}
	// The login page takes what it leaves empty from Docs'.
	l := a.Login
	if !l.Enabled() || l.Logo != a.Logo || l.PrimaryColor != "#0b6e4f" || l.Header != "Acme Docs" ||
		l.Background != "#eef5f1" || l.Title != "Sign in to Acme Docs" || l.SignInButton != "Continue" {
		t.Fatalf("login assets %+v", l)
	}
}

func TestNoBrandingIsNoAssetsAndNoSavedSection(t *testing.T) {
	c := validConfig(t)
	if a, problems := c.CheckBranding(); a != nil || problems != nil {
		t.Fatalf("no branding gave %v %v", a, problems)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("branding")) {
		t.Fatalf("a config without branding saves a branding section:\n%s", out)
	}
}

func TestSetBrandingFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	brandtest.Write(t, dir, "logo.png", brandtest.PNG(t, 200, 50, color.Black))
	t.Chdir(dir)
	c := validConfigAt(t)
	if err := c.Resolve([]string{"branding.primaryColor=#1F6FEB", "branding.logo=logo.png", "branding.login.title=Welcome"}); err != nil {
		t.Fatal(err)
	}
	if c.Branding.Logo != filepath.Join(dir, "logo.png") {
		t.Fatalf("a --set path is relative to the current directory: got %q", c.Branding.Logo)
	}
	a, problems := c.CheckBranding()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if a.PrimaryColor != "#1f6feb" || a.Logo.Width != 200 || a.Login.Title != "Welcome" || a.Login.PrimaryColor != "#1f6feb" {
		t.Fatalf("assets %+v", a)
	}
}

// validConfigAt loads the example from the repository whatever the
// current directory is.
func validConfigAt(t *testing.T) *Config {
	t.Helper()
	c, err := Load(exampleAbs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var exampleAbs, _ = filepath.Abs("../../examples/appliance.yaml")

func TestBrandingProblemsNameTheFieldAndTheFix(t *testing.T) {
	dir := t.TempDir()
	jpeg := brandtest.Write(t, dir, "logo.jpg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	big := brandtest.Write(t, dir, "big.png", append(brandtest.PNG(t, 10, 10, color.White), make([]byte, MaxLogoSize)...))
	ico := brandtest.Write(t, dir, "icon.ico", brandtest.ICO(t, 48))
	script := brandtest.Write(t, dir, "evil.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	onload := brandtest.Write(t, dir, "onload.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`))
	html := brandtest.Write(t, dir, "page.svg", []byte(`<html><body/></html>`))
	huge := brandtest.Write(t, dir, "huge.png", brandtest.PNG(t, 5000, 1, color.White))
	cases := []struct {
		name string
		sets []string
		want []string // each must appear in the error
	}{
		{"colour", []string{"branding.primaryColor=blue"}, []string{`branding.primaryColor: "blue" is not a colour`, "#rrggbb"}},
		{"short colour", []string{"branding.login.backgroundColor=#fff"}, []string{`branding.login.backgroundColor: "#fff" is not a colour`}},
		{"missing file", []string{"branding.logo=" + filepath.Join(dir, "none.svg")}, []string{"branding.logo: cannot be read", "check the path"}},
		{"jpeg", []string{"branding.logo=" + jpeg}, []string{"branding.logo: " + jpeg + " is not a PNG, ICO or SVG file", "give a PNG or SVG file"}},
		{"too large", []string{"branding.logo=" + big}, []string{"branding.logo: " + big + " is 257 KiB, more than 256 KiB", "ConfigMap"}},
		{"ico logo", []string{"branding.logo=" + ico}, []string{"branding.logo: " + ico + " is an ICO file", "give a PNG or SVG file"}},
		{"script", []string{"branding.login.logo=" + script}, []string{"branding.login.logo: ", "<script> element"}},
		{"onload", []string{"branding.favicon=" + onload}, []string{"branding.favicon: ", "script in <svg onload>"}},
		{"not svg", []string{"branding.logo=" + html}, []string{"branding.logo: ", "XML document of <html>"}},
		{"huge png", []string{"branding.logo=" + huge}, []string{"branding.logo: ", "5000x1 pixels"}},
		{"long name", []string{"branding.productName=" + strings.Repeat("x", 41)}, []string{"branding.productName: has 41 characters, more than 40"}},
		{"braces", []string{"branding.login.title=Hello {0}"}, []string{`branding.login.title: "Hello {0}" holds one of < > { }`}},
		{"spaces", []string{"branding.login.header= Acme"}, []string{"branding.login.header: \" Acme\" starts or ends with spaces"}},
		{"external login", []string{"identity.mode=external", "identity.issuer=https://id.example.org", "branding.login.title=Hi"},
			[]string{"branding.login: set while identity.mode is external"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfigAt(t)
			if err := c.Resolve(tc.sets); err != nil {
				t.Fatal(err)
			}
			err := c.Validate(catalog(t), nil)
			var ve *bundles.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a validation error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestBrandingAcceptsEveryAllowedKind(t *testing.T) {
	dir := t.TempDir()
	c := validConfigAt(t)
	if err := c.Resolve([]string{
		"branding.logo=" + brandtest.Write(t, dir, "logo.svg", brandtest.SVG(300, 100)),
		"branding.favicon=" + brandtest.Write(t, dir, "favicon.ico", brandtest.ICO(t, 256)),
		"branding.login.logo=" + brandtest.Write(t, dir, "login.png", brandtest.PNG(t, 64, 32, color.White)),
	}); err != nil {
		t.Fatal(err)
	}
	a, problems := c.CheckBranding()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for _, im := range []struct {
		got        *Image
		kind, mime string
		w, h       int
	}{
		{a.Logo, SVG, "image/svg+xml", 300, 100}, {a.Favicon, ICO, "image/x-icon", 256, 256}, {a.Login.Logo, PNG, "image/png", 64, 32},
	} {
		if im.got.Type != im.kind || im.got.MediaType() != im.mime || im.got.Width != im.w || im.got.Height != im.h {
			t.Errorf("%s: got %s %s %dx%d", im.kind, im.got.Type, im.got.MediaType(), im.got.Width, im.got.Height)
		}
	}
}
