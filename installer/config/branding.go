package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// Branding is the optional look of the appliance: Docs' name, logo,
// favicon and colour, and the Keycloak login page. Empty means Docs and
// Keycloak as upstream ships them, and a render identical to one without
// the section. Files are read at every run (never copied into the config):
// a relative path is relative to the config file naming it, or to the
// current directory for --set.
type Branding struct {
	// ProductName replaces "Docs" in Docs' title, header and page titles.
	ProductName string `json:"productName,omitempty"`
	// Logo is a PNG or SVG file shown in Docs' header and home page.
	Logo string `json:"logo,omitempty"`
	// Favicon is a PNG, SVG or ICO file, the browser tab's icon.
	Favicon string `json:"favicon,omitempty"`
	// PrimaryColor is Docs' brand colour as #rrggbb: buttons, links, accents.
	PrimaryColor string `json:"primaryColor,omitempty"`
	// Login brands the embedded Keycloak's login page (identity.mode embedded).
	Login LoginBranding `json:"login,omitzero"`
}

// LoginBranding is the Keycloak login theme. Each field left empty takes
// the Docs value it names.
type LoginBranding struct {
	// Logo is a PNG or SVG file above the form; default branding.logo.
	Logo string `json:"logo,omitempty"`
	// PrimaryColor of buttons and links as #rrggbb; default branding.primaryColor.
	PrimaryColor string `json:"primaryColor,omitempty"`
	// BackgroundColor of the page as #rrggbb; default Keycloak's.
	BackgroundColor string `json:"backgroundColor,omitempty"`
	// Header is the text above the form; default branding.productName.
	Header string `json:"header,omitempty"`
	// Title is the form's heading; default Keycloak's "Sign in to your account".
	Title string `json:"title,omitempty"`
	// SignInButton is the label of the button; default Keycloak's "Sign In".
	SignInButton string `json:"signInButton,omitempty"`
}

// Enabled reports whether any branding is configured.
func (b Branding) Enabled() bool { return b != Branding{} }

// Limits of branding files and texts. Each file travels in a ConfigMap,
// which Kubernetes caps at 1 MiB with everything else it holds.
const (
	MaxLogoSize    = 256 << 10
	MaxFaviconSize = 64 << 10
	MaxProductName = 40
	MaxLoginText   = 80
	// maxImageSide bounds a PNG's or ICO's pixels: a logo, not a photograph.
	maxImageSide = 4096
)

var colorRe = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// files are the branding fields that name files, by path.
func (b *Branding) files() map[string]*string {
	return map[string]*string{"branding.logo": &b.Logo, "branding.favicon": &b.Favicon, "branding.login.logo": &b.Login.Logo}
}

// absolutePaths makes the relative file paths absolute against dir, so
// the config means the same files whatever the current directory of a
// later run (install saves it in the state folder).
func (b *Branding) absolutePaths(dir string) {
	for _, p := range b.files() {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// BrandAssets is the branding as checked: exactly these bytes and values
// are rendered, so what Docs and Keycloak serve is what was checked.
// Values left empty in the config are filled from what they default to.
type BrandAssets struct {
	ProductName  string
	PrimaryColor string
	Logo         *Image
	Favicon      *Image
	Login        LoginAssets
}

// LoginAssets is the Keycloak login theme as checked, defaults filled.
type LoginAssets struct {
	Logo                        *Image
	PrimaryColor, Background    string
	Header, Title, SignInButton string
	configured                  bool
}

// Enabled reports whether the login page is branded at all.
func (l LoginAssets) Enabled() bool { return l.configured }

// DocsEnabled reports whether anything of Docs is branded.
func (a *BrandAssets) DocsEnabled() bool {
	return a != nil && (a.ProductName != "" || a.PrimaryColor != "" || a.Logo != nil || a.Favicon != nil)
}

// CheckBranding reads the branding files and checks every branding field:
// colours are #rrggbb, texts are short single lines, each file is a PNG,
// SVG or ICO (by its content, not its name) of a sane size. It returns the
// assets (nil without branding) and every problem with its field and fix.
func (c *Config) CheckBranding() (*BrandAssets, []bundles.FieldError) {
	b := c.Branding
	if !b.Enabled() {
		return nil, nil
	}
	var errs []bundles.FieldError
	add := func(path, problem, fix string) {
		errs = append(errs, bundles.FieldError{Path: path, Problem: problem, Fix: fix})
	}
	color := func(path, v string) string {
		if v != "" && !colorRe.MatchString(v) {
			add(path, fmt.Sprintf("%q is not a colour", v), `write it as #rrggbb, e.g. "#1f6feb" (quoted: # starts a YAML comment)`)
		}
		return strings.ToLower(v)
	}
	text := func(path, v string, max int) {
		if err := checkText(v, max); err != nil {
			add(path, err.Error(), fmt.Sprintf("write one line of at most %d characters, without < > { }", max))
		}
	}
	a := &BrandAssets{ProductName: b.ProductName, PrimaryColor: color("branding.primaryColor", b.PrimaryColor)}
	text("branding.productName", b.ProductName, MaxProductName)
	a.Logo = readImage("branding.logo", b.Logo, MaxLogoSize, []string{PNG, SVG}, add)
	a.Favicon = readImage("branding.favicon", b.Favicon, MaxFaviconSize, []string{PNG, SVG, ICO}, add)

	l := b.Login
	la := LoginAssets{
		PrimaryColor: color("branding.login.primaryColor", l.PrimaryColor),
		Background:   color("branding.login.backgroundColor", l.BackgroundColor),
		Header:       l.Header, Title: l.Title, SignInButton: l.SignInButton,
		Logo: readImage("branding.login.logo", l.Logo, MaxLogoSize, []string{PNG, SVG}, add),
	}
	text("branding.login.header", l.Header, MaxLoginText)
	text("branding.login.title", l.Title, MaxLoginText)
	text("branding.login.signInButton", l.SignInButton, MaxLoginText)
	if la.Logo == nil && l.Logo == "" {
		la.Logo = a.Logo
	}
	if la.PrimaryColor == "" {
		la.PrimaryColor = a.PrimaryColor
	}
	if la.Header == "" {
		la.Header = a.ProductName
	}
	la.configured = la.Logo != nil || la.PrimaryColor != "" || la.Background != "" || la.Header != "" || la.Title != "" || la.SignInButton != ""
	if l != (LoginBranding{}) && c.Identity.Mode == External {
		add("branding.login", "set while identity.mode is external: the login page is your provider's",
			"remove branding.login, or brand the login page at your identity provider")
	}
	a.Login = la
	if len(errs) > 0 {
		return nil, errs
	}
	return a, nil
}

// checkText reports why v is not a short single-line text, or nil. Braces
// and angle brackets are refused: Keycloak formats messages with
// MessageFormat ({0}) and renders its header as HTML, Docs interpolates
// {{...}} in translations.
func checkText(v string, max int) error {
	switch {
	case v == "":
		return nil
	case !utf8.ValidString(v):
		return fmt.Errorf("is not UTF-8 text")
	case utf8.RuneCountInString(v) > max:
		return fmt.Errorf("has %d characters, more than %d", utf8.RuneCountInString(v), max)
	case strings.TrimSpace(v) != v:
		return fmt.Errorf("%q starts or ends with spaces", v)
	case strings.ContainsAny(v, "<>{}"):
		return fmt.Errorf("%q holds one of < > { }", v)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("%q holds a control character or a line break", v)
		}
	}
	return nil
}
