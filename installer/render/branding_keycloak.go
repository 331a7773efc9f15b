package render

import (
	"fmt"
	"sort"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// The Keycloak login theme, for Keycloak 26.0.0 (the train's image): a
// theme folder /opt/keycloak/themes/docs-appliance/login mounted from a
// ConfigMap, so the upstream image is used as it is. It extends the
// version's own login theme, keycloak.v2 (parent=keycloak.v2), and adds a
// stylesheet and messages:
//
//   - theme.properties: styles replaces the parent's list rather than
//     adding to it, so it names keycloak.v2's css/styles.css (resolved up
//     the theme chain) before ours; stylesCommon and import are inherited;
//   - messages/messages_en.properties: loginTitleHtml (the header above the
//     form, template.ftl), loginTitle (the page title), loginAccountTitle
//     (the form's heading, login.ftl), doLogIn (the button);
//   - resources/css and resources/img: the colours, the logo, and Docs'
//     favicon as the page's img/favicon.ico.
//
// File names of resources carry a hash of their content: Keycloak serves
// theme resources with a long cache lifetime under a URL that only its
// version changes.
const (
	loginThemeName      = "docs-appliance"
	loginThemeConfigMap = "keycloak-login-theme"
	loginThemeVolume    = "login-theme"
	loginThemeDir       = "/opt/keycloak/themes/" + loginThemeName
	// keycloakContainer is the container the operator makes in Keycloak's
	// pods; unsupported.podTemplate's container of that name is merged
	// into it.
	keycloakContainer = "keycloak"
	// keycloakLoginParent is the train's Keycloak's own login theme.
	keycloakLoginParent = "keycloak.v2"
)

// keycloakTheme is the theme's files, by their path under the theme folder.
type keycloakTheme struct {
	files map[string][]byte
}

// buildKeycloakTheme lays out the login theme; nil when the login page is
// not branded.
func buildKeycloakTheme(a *config.BrandAssets) *keycloakTheme {
	if a == nil || !a.Login.Enabled() {
		return nil
	}
	l := a.Login
	t := &keycloakTheme{files: map[string][]byte{}}
	var css strings.Builder
	css.WriteString("/* Rendered by docs-appliance from branding.login. */\n")
	if l.PrimaryColor != "" {
		// PatternFly 5's globals, which keycloak.v2's buttons and links use.
		fmt.Fprintf(&css, "html:root {\n  --pf-v5-global--primary-color--100: %s;\n  --pf-v5-global--primary-color--200: %s;\n"+
			"  --pf-v5-global--link--Color: %s;\n  --pf-v5-global--link--Color--hover: %s;\n  --pf-v5-global--active-color--100: %s;\n}\n",
			l.PrimaryColor, mixColor(l.PrimaryColor, -.2), l.PrimaryColor, mixColor(l.PrimaryColor, -.2), l.PrimaryColor)
	}
	if l.Background != "" {
		fmt.Fprintf(&css, "html.login-pf body, body#keycloak-bg {\n  background: %s !important;\n}\n", l.Background)
	}
	if l.Logo != nil {
		img := hashedName("logo", l.Logo.Type, l.Logo.Data)
		t.files["login/resources/img/"+img] = l.Logo.Data
		// Above the header's text, whatever the template puts in it.
		fmt.Fprintf(&css, "#kc-header-wrapper::before {\n  content: \"\";\n  display: block;\n  width: min(300px, 80vw);\n  height: 64px;\n"+
			"  margin: 0 auto 12px;\n  background: url(\"../img/%s\") no-repeat center / contain;\n}\n", img)
	}
	if a.Favicon != nil {
		// template.ftl links ${url.resourcesPath}/img/favicon.ico, whatever
		// the file is: browsers tell a PNG or an SVG icon by its content.
		t.files["login/resources/img/favicon.ico"] = a.Favicon.Data
	}
	cssName := hashedName("branding", "css", []byte(css.String()))
	t.files["login/resources/css/"+cssName] = []byte(css.String())
	props := "# Rendered by docs-appliance from branding.login of appliance.yaml.\n" +
		"parent=" + keycloakLoginParent + "\n" +
		"styles=css/styles.css css/" + cssName + "\n"
	if l.PrimaryColor != "" || l.Background != "" {
		// The colours are chosen for a light page.
		props += "darkMode=false\n"
	}
	t.files["login/theme.properties"] = []byte(props)
	var msgs []string
	add := func(key, value string) {
		if value != "" {
			msgs = append(msgs, key+"="+propertiesValue(value))
		}
	}
	add("loginTitleHtml", htmlEscape(l.Header))
	add("loginTitle", l.Header)
	add("loginAccountTitle", l.Title)
	add("doLogIn", l.SignInButton)
	sort.Strings(msgs)
	t.files["login/messages/messages_en.properties"] = []byte("# Rendered by docs-appliance from branding.login.\n" + strings.Join(msgs, "\n") + "\n")
	return t
}

// propertiesValue escapes a message for Keycloak: MessageFormat reads a
// single quote as a quote character (doubled, it is one), and a
// .properties file is safest in ASCII with \u escapes.
func propertiesValue(s string) string {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(s, "'", "''") {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r > 0x7e:
			for _, u := range utf16Units(r) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func utf16Units(r rune) []rune {
	if r < 0x10000 {
		return []rune{r}
	}
	r -= 0x10000
	return []rune{0xd800 + (r >> 10), 0xdc00 + (r & 0x3ff)}
}

// htmlEscape escapes what the header's HTML would read as markup (< and >
// are refused in the config).
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;").Replace(s)
}

// keyOf is a ConfigMap key for a theme path (keys cannot hold '/').
func keyOf(path string) string { return strings.ReplaceAll(path, "/", "_") }

// brandKeycloak adds the login theme to the embedded Keycloak: its
// ConfigMap, mounted into the operator's pods through
// spec.unsupported.podTemplate (the Keycloak CRD of operator 26.0.0 has
// no other way to add a volume), with the content's hash on the pod
// template so a change rolls Keycloak's pods; and the realm's login
// theme. Nothing when the login page is not branded.
func brandKeycloak(v *valuesContext, ns string, kc, realm Object) ([]Object, error) {
	t := buildKeycloakTheme(v.Branding)
	if t == nil {
		return nil, nil
	}
	files := map[string][]byte{}
	var paths []string
	for p, data := range t.files {
		files[keyOf(p)] = data
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var items list
	for _, p := range paths {
		items = append(items, m{"key": keyOf(p), "path": p})
	}
	cm, hash := filesConfigMap(ns, loginThemeConfigMap, "identity", files)
	spec, ok := kc["spec"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the Keycloak has no spec")
	}
	spec["unsupported"] = m{"podTemplate": m{
		"metadata": m{"annotations": m{brandingHashAnnotation: hash}},
		"spec": m{
			"containers": list{m{
				"name":         keycloakContainer,
				"volumeMounts": list{m{"name": loginThemeVolume, "mountPath": loginThemeDir, "readOnly": true}},
			}},
			"volumes": list{m{"name": loginThemeVolume, "configMap": m{"name": loginThemeConfigMap, "items": items}}},
		},
	}}
	rs, _ := realm["spec"].(map[string]any)
	r, ok := rs["realm"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the realm import has no realm")
	}
	// Keycloak imports a realm once: on an existing realm, set it in the
	// admin console (Realm settings, Themes) or with kcadm.sh.
	r["loginTheme"] = loginThemeName
	return []Object{cm}, nil
}
