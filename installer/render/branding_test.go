package render

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/color"
	"os"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/suitenumerique/docs-appliance/installer/config/brandtest"
)

// brandedFixture renders the single-small example with the example's
// branding and any further overrides.
func brandedFixture(t *testing.T, sets ...string) (*fixture, map[string]Object) {
	t.Helper()
	f := newFixture(t, "single-small", append(append([]string{}, exampleBranding...), sets...)...)
	return f, objectsByID(t, f.render(t))
}

// objectsByID decodes every plain object of a render, by kind/namespace/name.
func objectsByID(t *testing.T, res *Result) map[string]Object {
	t.Helper()
	_, objs := renderedObjects(t, res)
	out := map[string]Object{}
	for _, o := range objs {
		out[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = Object(o.Object)
	}
	return out
}

// configMapFiles is a ConfigMap's files, from data and binaryData.
func configMapFiles(t *testing.T, cm Object) map[string][]byte {
	t.Helper()
	if cm == nil {
		t.Fatal("no such ConfigMap")
	}
	out := map[string][]byte{}
	text, _ := cm["data"].(map[string]any)
	for k, v := range text {
		out[k] = []byte(v.(string))
	}
	bin, _ := cm["binaryData"].(map[string]any)
	for k, v := range bin {
		b, err := base64.StdEncoding.DecodeString(v.(string))
		if err != nil {
			t.Fatalf("binaryData[%s]: %v", k, err)
		}
		out[k] = b
	}
	return out
}

// docsThemeSchema compiles the schema of what Docs v5.4.1 reads.
func docsThemeSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/docs-theme-v5.4.1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("docs-theme-v5.4.1.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("docs-theme-v5.4.1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateTheme(s *jsonschema.Schema, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// podTemplate of a Deployment.
func podTemplate(t *testing.T, o Object) (annotations map[string]any, spec m) {
	t.Helper()
	spec, err := podSpec(o)
	if err != nil {
		t.Fatal(err)
	}
	return podAnnotations(o), spec
}

func envValues(c m) map[string]string {
	out := map[string]string{}
	for k, e := range envOf(c) {
		out[k] = literal(e)
	}
	return out
}

// mountedKeys maps each file a pod sees under mountPath to the
// ConfigMap key behind it.
func mountedKeys(t *testing.T, spec m, mountPath string) map[string]string {
	t.Helper()
	var volume string
	for _, c := range containers(spec, "containers") {
		for _, vm := range asList(c["volumeMounts"]) {
			if vm := vm.(map[string]any); vm["mountPath"] == mountPath {
				volume = vm["name"].(string)
			}
		}
	}
	out := map[string]string{}
	for _, v := range asList(spec["volumes"]) {
		vm := v.(map[string]any)
		if vm["name"] != volume {
			continue
		}
		cm := vm["configMap"].(map[string]any)
		for _, it := range asList(cm["items"]) {
			im := it.(map[string]any)
			out[path.Join(mountPath, im["path"].(string))] = im["key"].(string)
		}
	}
	if len(out) == 0 {
		t.Fatalf("nothing mounted at %s", mountPath)
	}
	return out
}

// TestDocsThemeMatchesTheDocsVersion renders the branding and checks
// Docs' theme file against the schema of what Docs v5.4.1 reads, and that
// every file it names is where the backend reads it and the frontend
// serves it, with the bytes and type the config gave.
func TestDocsThemeMatchesTheDocsVersion(t *testing.T) {
	f, objs := brandedFixture(t)
	files := configMapFiles(t, objs["ConfigMap/docs/docs-branding"])
	_, backendSpec := podTemplate(t, objs["Deployment/docs/docs-backend"])
	_, frontendSpec := podTemplate(t, objs["Deployment/docs/docs-frontend"])
	env := envValues(containers(backendSpec, "containers")[0])

	// The backend reads the theme file at THEME_CUSTOMIZATION_FILE_PATH.
	backendFiles := mountedKeys(t, backendSpec, docsBackendBrandMount)
	key, ok := backendFiles[env["THEME_CUSTOMIZATION_FILE_PATH"]]
	if !ok {
		t.Fatalf("THEME_CUSTOMIZATION_FILE_PATH %q is not a mounted file (%v)", env["THEME_CUSTOMIZATION_FILE_PATH"], backendFiles)
	}
	theme := files[key]
	schema := docsThemeSchema(t)
	if err := validateTheme(schema, theme); err != nil {
		t.Fatalf("the theme file is not what Docs v5.4.1 reads: %v\n%s", err, theme)
	}

	// Every URL it names is served by the frontend, from the file given.
	served := mountedKeys(t, frontendSpec, docsFrontendBrandMount)
	var th docsTheme
	if err := json.Unmarshal(theme, &th); err != nil {
		t.Fatal(err)
	}
	a := f.opts.Branding
	check := func(url string, want []byte, mediaType, gotType string) {
		t.Helper()
		k, ok := served["/app"+url]
		if !ok {
			t.Errorf("%s is not served by the frontend (serves %v)", url, served)
			return
		}
		if !bytes.Equal(files[k], want) {
			t.Errorf("%s is not the file the config gave", url)
		}
		if gotType != mediaType {
			t.Errorf("%s has type %q, want %q", url, gotType, mediaType)
		}
	}
	check(th.Header.Icon.Src, a.Logo.Data, "", "")
	check(th.Home.IconBanner.Src, a.Logo.Data, "", "")
	check(th.Favicon.Light.Href, a.Favicon.Data, "image/png", th.Favicon.Light.Type)
	check(env["FRONTEND_CSS_URL"], files[served["/app"+env["FRONTEND_CSS_URL"]]], "", "")
	// The 120x40 example logo keeps its aspect at the header's height.
	if th.Header.Icon.Width != 126 || th.Header.Icon.Height != 42 || !th.Header.Icon.WithTitle {
		t.Errorf("header icon %+v", th.Header.Icon)
	}
	for _, lang := range docsUILanguages {
		if got := th.Translations[lang]["translation"]["Docs"]; got != "Acme Docs" {
			t.Errorf("translations.%s: Docs is %q", lang, got)
		}
	}
	css := string(files[served["/app"+env["FRONTEND_CSS_URL"]]])
	for _, want := range []string{"--c--globals--colors--brand-550: #0b6e4f;", "--c--globals--colors--brand-050: #ebf3f1;", "--c--globals--colors--logo-1-light: #0b6e4f;"} {
		if !strings.Contains(css, want) {
			t.Errorf("stylesheet lacks %q:\n%s", want, css)
		}
	}

	// The schema is not vacuous: what v5.4.1 would not read is refused.
	for _, bad := range []string{
		`{"favicons": {}}`,
		`{"header": {"icons": {}}}`,
		`{"header": {"icon": {"src": 3}}}`,
		`{"favicon": {"light": {"href": "/x.png"}}}`,
		`{"translations": {"xx": {"translation": {"Docs": "Acme"}}}}`,
		`{"home": {"with-proconnect": "no"}}`,
	} {
		if validateTheme(schema, []byte(bad)) == nil {
			t.Errorf("the schema accepts %s", bad)
		}
	}
}

// TestDocsThemeWithoutLogoKeepsUpstreamIcons: a theme file replaces
// upstream's default.json whole, so what the config leaves out is
// upstream's.
func TestDocsThemeWithoutLogoKeepsUpstreamIcons(t *testing.T) {
	f := newFixture(t, "single-small", "branding.productName=Acme")
	objs := objectsByID(t, f.render(t))
	files := configMapFiles(t, objs["ConfigMap/docs/docs-branding"])
	var theme []byte
	for k, v := range files {
		if strings.HasSuffix(k, ".json") {
			theme = v
		}
	}
	if err := validateTheme(docsThemeSchema(t), theme); err != nil {
		t.Fatal(err)
	}
	var th docsTheme
	json.Unmarshal(theme, &th)
	if th.Header.Icon.Src != "/assets/icon-docs.svg" || th.Favicon.Dark.Href != "/assets/favicon-dark.png" {
		t.Errorf("upstream's icons lost: %s", theme)
	}
	// Nothing served: the frontend is not touched, the keycloak theme has only the header text.
	if a, _ := podTemplate(t, objs["Deployment/docs/docs-frontend"]); a[brandingHashAnnotation] != nil {
		t.Error("the frontend is rolled for a branding it does not serve")
	}
	msgs := configMapFiles(t, objs["ConfigMap/keycloak/keycloak-login-theme"])["login_messages_messages_en.properties"]
	if !strings.Contains(string(msgs), "loginTitleHtml=Acme\n") {
		t.Errorf("messages:\n%s", msgs)
	}
}

// TestKeycloakLoginTheme checks the rendered theme against Keycloak
// 26.0.0's theme layout: a login folder under /opt/keycloak/themes/NAME
// with theme.properties extending keycloak.v2, every resource it names in
// the ConfigMap, messages of keys the login templates read, and the realm
// naming the theme.
func TestKeycloakLoginTheme(t *testing.T) {
	f, objs := brandedFixture(t, "branding.productName=L'Équipe & Co")
	kc := objs["Keycloak/keycloak/keycloak"]
	files := configMapFiles(t, objs["ConfigMap/keycloak/keycloak-login-theme"])
	pt := kc["spec"].(map[string]any)["unsupported"].(map[string]any)["podTemplate"].(map[string]any)
	spec := pt["spec"].(map[string]any)
	c := containers(spec, "containers")
	if len(c) != 1 || c[0]["name"] != "keycloak" {
		t.Fatalf("podTemplate containers %v: the operator merges only its own container, keycloak", c)
	}
	mounted := mountedKeys(t, spec, "/opt/keycloak/themes/docs-appliance")
	theme := map[string][]byte{}
	for p, k := range mounted {
		data, ok := files[k]
		if !ok {
			t.Fatalf("%s is mounted from key %s, which the ConfigMap lacks", p, k)
		}
		theme[strings.TrimPrefix(p, "/opt/keycloak/themes/docs-appliance/")] = data
	}
	if len(theme) != len(files) {
		t.Errorf("%d files in the ConfigMap, %d mounted", len(files), len(theme))
	}
	props := parseProperties(t, theme["login/theme.properties"])
	if props["parent"] != "keycloak.v2" {
		t.Errorf("parent=%q, want keycloak.v2 (Keycloak 26.0.0's login theme)", props["parent"])
	}
	styles := strings.Fields(props["styles"])
	if len(styles) != 2 || styles[0] != "css/styles.css" {
		t.Fatalf("styles=%q: must keep keycloak.v2's css/styles.css first, then ours", props["styles"])
	}
	css, ok := theme["login/resources/"+styles[1]]
	if !ok {
		t.Fatalf("styles names %s, which the theme lacks", styles[1])
	}
	for _, u := range regexp.MustCompile(`url\("([^"]+)"\)`).FindAllStringSubmatch(string(css), -1) {
		p := path.Join("login/resources", path.Dir(styles[1]), u[1])
		if !bytes.Equal(theme[p], f.opts.Branding.Login.Logo.Data) {
			t.Errorf("the stylesheet's %s is not the login logo", p)
		}
	}
	if !bytes.Equal(theme["login/resources/img/favicon.ico"], f.opts.Branding.Favicon.Data) {
		t.Error("the login page's favicon is not Docs' favicon")
	}
	for _, want := range []string{"--pf-v5-global--primary-color--100: #0b6e4f;", "background: #eef5f1 !important;"} {
		if !strings.Contains(string(css), want) {
			t.Errorf("stylesheet lacks %q:\n%s", want, css)
		}
	}
	msgs := parseProperties(t, theme["login/messages/messages_en.properties"])
	// Keys keycloak.v2's templates read: template.ftl (loginTitleHtml,
	// loginTitle), login.ftl (loginAccountTitle, doLogIn).
	want := map[string]string{
		"loginTitleHtml": "L''Équipe &amp; Co", "loginTitle": "L''Équipe & Co",
		"loginAccountTitle": "Sign in to Acme Docs", "doLogIn": "Continue",
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("messages %v, want %v", msgs, want)
	}
	realm := objs["KeycloakRealmImport/keycloak/docs"]["spec"].(map[string]any)["realm"].(map[string]any)
	if realm["loginTheme"] != "docs-appliance" {
		t.Errorf("realm loginTheme %v", realm["loginTheme"])
	}
	if a := pt["metadata"].(map[string]any)["annotations"].(map[string]any); a[brandingHashAnnotation] == "" {
		t.Error("Keycloak's pods carry no branding hash")
	}
}

// parseProperties reads a .properties file as Java does for these files:
// key=value lines, # comments, \uXXXX escapes.
func parseProperties(t *testing.T, data []byte) map[string]string {
	t.Helper()
	if data == nil {
		t.Fatal("no such file")
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		if strings.ContainsFunc(line, func(r rune) bool { return r > 0x7e }) {
			t.Fatalf("line %q is not ASCII", line)
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+5 < len(v) && v[i+1] == 'u' {
				var r rune
				for _, h := range v[i+2 : i+6] {
					r = r*16 + rune(strings.IndexRune("0123456789abcdef", h))
				}
				b.WriteRune(r)
				i += 5
				continue
			}
			b.WriteByte(v[i])
		}
		out[k] = b.String()
	}
	return out
}

// TestBrandingChangeRollsOnlyItsReaders renders twice with different
// colours and logos: only the branding ConfigMaps and the pod templates
// of Docs' backend and frontend and of Keycloak change, and in those only
// the pod template.
func TestBrandingChangeRollsOnlyItsReaders(t *testing.T) {
	dir := t.TempDir()
	logo := brandtest.Write(t, dir, "logo.png", brandtest.PNG(t, 90, 30, color.NRGBA{0xaa, 0, 0, 0xff}))
	_, before := brandedFixture(t)
	_, after := brandedFixture(t, "branding.primaryColor=#aa0000", "branding.logo="+logo)
	var changed []string
	for id, o := range after {
		if !reflect.DeepEqual(o, before[id]) {
			changed = append(changed, id)
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			changed = append(changed, id+" (gone)")
		}
	}
	sort.Strings(changed)
	want := []string{"ConfigMap/docs/docs-branding", "ConfigMap/keycloak/keycloak-login-theme",
		"Deployment/docs/docs-backend", "Deployment/docs/docs-frontend", "Keycloak/keycloak/keycloak"}
	if !reflect.DeepEqual(changed, want) {
		t.Fatalf("changed %v, want %v", changed, want)
	}
	for _, id := range want[2:] {
		b, a := deepCopy(before[id]), deepCopy(after[id])
		if id == "Keycloak/keycloak/keycloak" {
			delete(a["spec"].(map[string]any), "unsupported")
			delete(b["spec"].(map[string]any), "unsupported")
		} else {
			delete(a["spec"].(map[string]any), "template")
			delete(b["spec"].(map[string]any), "template")
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s changed outside its pod template", id)
		}
		if hashOf(before[id]) == hashOf(after[id]) {
			t.Errorf("%s: the branding hash did not change, its pods would keep the old files", id)
		}
	}

	// Without branding at all, none of it is rendered.
	plain := objectsByID(t, newFixture(t, "single-small").render(t))
	for id, o := range plain {
		if strings.Contains(id, "branding") || strings.Contains(id, "login-theme") || hashOf(o) != "" {
			t.Errorf("%s rendered without branding", id)
		}
	}
}

func hashOf(o Object) string {
	if o.Kind() == "Keycloak" {
		u, _ := o["spec"].(map[string]any)["unsupported"].(map[string]any)
		pt, _ := u["podTemplate"].(map[string]any)
		md, _ := pt["metadata"].(map[string]any)
		a, _ := md["annotations"].(map[string]any)
		s, _ := a[brandingHashAnnotation].(string)
		return s
	}
	spec, _ := o["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	md, _ := tmpl["metadata"].(map[string]any)
	a, _ := md["annotations"].(map[string]any)
	s, _ := a[brandingHashAnnotation].(string)
	return s
}

func deepCopy(o Object) Object {
	data, _ := json.Marshal(o)
	var out Object
	json.Unmarshal(data, &out)
	return out
}

// TestRenderRefusesUnreadBranding: a config with branding rendered without
// its checked files fails instead of rendering an unbranded appliance.
func TestRenderRefusesUnreadBranding(t *testing.T) {
	f := newFixture(t, "single-small", exampleBranding...)
	f.opts.Branding = nil
	if _, err := Render(t.Context(), f.opts); err == nil || !strings.Contains(err.Error(), "config.CheckBranding") {
		t.Fatalf("got %v", err)
	}
}

// TestBrandingChangeWritesOnlyItsFiles: in the repository, a new colour
// rewrites the two ConfigMaps and the three workloads that read them.
func TestBrandingChangeWritesOnlyItsFiles(t *testing.T) {
	f := newFixture(t, "single-small", exampleBranding...)
	dir := t.TempDir()
	if _, err := Write(dir, f.render(t), f.id, f.opts.Recipients); err != nil {
		t.Fatal(err)
	}
	cfg := *f.opts.Config
	if err := cfg.Resolve([]string{"branding.primaryColor=#123456"}); err != nil {
		t.Fatal(err)
	}
	brand, problems := cfg.CheckBranding()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	f.opts.Config, f.opts.Branding = &cfg, brand
	rep, err := Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	// The environment's own ConfigMaps, and its patches of the shared base's pod templates.
	env := "environments/production/"
	want := env + "apps/docs/configmap-docs-branding.yaml," + env + "apps/patches/docs/deployment-docs-backend.yaml," + env + "apps/patches/docs/deployment-docs-frontend.yaml," +
		env + "platform/identity/configmap-keycloak-login-theme.yaml," + env + "platform/patches/identity/keycloak-keycloak.yaml"
	if got := strings.Join(rep.Written, ","); got != want || len(rep.Removed) != 0 {
		t.Fatalf("written %s removed %v, want %s", got, rep.Removed, want)
	}
}
