package render

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// Docs' branding, for the Docs version of the train (v5.4.1; see
// testdata/docs-theme-v5.4.1.schema.json for what it reads):
//
//   - the theme customization file, the JSON the backend reads from
//     THEME_CUSTOMIZATION_FILE_PATH and serves in /api/v1.0/config/ as
//     theme_customization (header and home icons, favicons, translations);
//   - a stylesheet the backend names in FRONTEND_CSS_URL, which the
//     frontend loads on every page: Cunningham's brand palette from the
//     primary colour;
//   - the logo, the favicon and that stylesheet, served by the frontend's
//     own nginx (root /app, try_files $uri) from the ConfigMap mounted at
//     /app/appliance-branding, on the Docs host under /appliance-branding/,
//     which the Gateway already routes to the frontend.
//
// Every file name carries a hash of its content. The backend caches the
// theme file in Redis for a day under a key made from its path
// (THEME_CUSTOMIZATION_CACHE_TIMEOUT, core/api/viewsets.py ConfigView), so
// a new path is what makes a change show at once; and browsers may keep
// a file of an unchanged URL.
const (
	docsBrandingConfigMap = "docs-branding"
	docsBrandingVolume    = "branding"
	// docsBrandingPath is where the frontend serves the files, and where
	// they are mounted under its nginx root.
	docsBrandingPath       = "/appliance-branding"
	docsFrontendBrandMount = "/app" + docsBrandingPath
	docsBackendBrandMount  = "/etc/docs-appliance/branding"
	// brandingHashAnnotation on a pod template fingerprints the branding
	// files its pods read: a change rolls them, and only them.
	brandingHashAnnotation = "docs-appliance/branding-hash"
)

// docsUILanguages are the languages of Docs v5.4.1's frontend
// (src/frontend/apps/impress/src/i18n/translations.json): the product
// name replaces "Docs" in each.
var docsUILanguages = []string{"br", "de", "el", "en", "es", "fr", "it", "nl", "pt", "ru", "sl", "sv", "tr", "uk", "zh"}

// docsBranding is what the Docs side renders from the assets.
type docsBranding struct {
	// files are the ConfigMap's keys and contents.
	files map[string][]byte
	// theme and css are the keys of the theme file and the stylesheet, ""
	// when not rendered; served are the keys the frontend serves.
	theme, css string
	served     []string
}

func hashedName(stem, ext string, data []byte) string {
	return stem + "-" + shortHash(string(data))[:12] + "." + ext
}

// buildDocsBranding lays out Docs' branding files; nil without branding.
func buildDocsBranding(a *config.BrandAssets) (*docsBranding, error) {
	if !a.DocsEnabled() {
		return nil, nil
	}
	b := &docsBranding{files: map[string][]byte{}}
	serve := func(stem string, im *config.Image) string {
		name := hashedName(stem, im.Type, im.Data)
		b.files[name] = im.Data
		b.served = append(b.served, name)
		return docsBrandingPath + "/" + name
	}
	theme := docsTheme{
		// Upstream's default.json keeps onboarding on; a file of our own
		// replaces that one whole.
		Onboarding: &themeOnboarding{Enabled: true},
		Home:       &themeHome{WithProConnect: false},
	}
	// Without a logo, upstream's icon, as its default.json shows it.
	header := themeImage{Src: "/assets/icon-docs.svg", Width: 36, Height: 42, Style: map[string]string{"width": "36px", "height": "auto"}, WithTitle: true}
	banner := themeImage{Src: "/assets/icon-docs.svg", Width: 64, Height: 74, Style: map[string]string{"width": "64px", "height": "auto"}}
	if a.Logo != nil {
		src := serve("logo", a.Logo)
		header = scaledImage(src, a.Logo, 42)
		header.WithTitle = true
		banner = scaledImage(src, a.Logo, 74)
	}
	header.Alt, banner.Alt = a.ProductName, ""
	theme.Header = &themeHeader{Icon: &header}
	theme.Home.IconBanner = &banner
	if a.Favicon != nil {
		link := themeLink{Href: serve("favicon", a.Favicon), Type: a.Favicon.MediaType()}
		theme.Favicon = &themeFavicon{Light: link, Dark: link}
	} else {
		theme.Favicon = &themeFavicon{
			Light: themeLink{Href: "/assets/favicon-light.png", Type: "image/png"},
			Dark:  themeLink{Href: "/assets/favicon-dark.png", Type: "image/png"},
		}
	}
	if a.ProductName != "" {
		theme.Translations = map[string]map[string]map[string]string{}
		for _, lang := range docsUILanguages {
			theme.Translations[lang] = map[string]map[string]string{"translation": {"Docs": a.ProductName}}
		}
	}
	data, err := json.MarshalIndent(theme, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding Docs' theme customization: %w", err)
	}
	data = append(data, '\n')
	b.theme = hashedName("theme", "json", data)
	b.files[b.theme] = data
	if a.PrimaryColor != "" {
		css := []byte(docsPaletteCSS(a.PrimaryColor))
		b.css = hashedName("theme", "css", css)
		b.files[b.css] = css
		b.served = append(b.served, b.css)
	}
	sort.Strings(b.served)
	return b, nil
}

// scaledImage shows an image at a given height, its width by its aspect.
func scaledImage(src string, im *config.Image, height int) themeImage {
	w := height
	if im.Width > 0 && im.Height > 0 {
		w = int(math.Round(float64(height) * float64(im.Width) / float64(im.Height)))
	}
	return themeImage{Src: src, Width: w, Height: height, Style: map[string]string{"width": "auto", "height": strconv.Itoa(height) + "px"}}
}

// configMap is the ConfigMap holding every file, and the hash of its content.
func (b *docsBranding) configMap() (Object, string) {
	return filesConfigMap(docsNamespace, docsBrandingConfigMap, "docs", b.files)
}

// filesConfigMap holds text files (the theme, stylesheets, messages, SVG)
// as data, readable in the repository, and images as binaryData.
func filesConfigMap(ns, name, component string, files map[string][]byte) (Object, string) {
	text, bin := m{}, m{}
	var all strings.Builder
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		data := files[k]
		if utf8.Valid(data) && !bytes.ContainsRune(data, 0) {
			text[k] = string(data)
		} else {
			bin[k] = base64.StdEncoding.EncodeToString(data)
		}
		all.WriteString(k + "=" + base64.StdEncoding.EncodeToString(data) + "\n")
	}
	cm := newObject("v1", "ConfigMap", ns, name, component)
	if len(text) > 0 {
		cm["data"] = text
	}
	if len(bin) > 0 {
		cm["binaryData"] = bin
	}
	return cm, shortHash(all.String())
}

// docsBrandingComponent is the ConfigMap of Docs' branding, beside Docs.
func docsBrandingComponent(v *valuesContext) (*component, error) {
	b, err := buildDocsBranding(v.Branding)
	if err != nil || b == nil {
		return nil, err
	}
	cm, _ := b.configMap()
	return &component{
		Component: Component{Name: "docs", Layer: "apps", Namespace: docsNamespace},
		dir:       "apps/docs",
		objects:   []Object{cm},
	}, nil
}

// brandDocsWorkloads mounts the branding into the pods that read it: the
// backend (the theme file, and the stylesheet's URL it hands the
// frontend) and the frontend (the files it serves). Celery and the Jobs
// read none of it and are left as they are.
func brandDocsWorkloads(v *valuesContext, find func(kind, name string) (Object, error)) error {
	b, err := buildDocsBranding(v.Branding)
	if err != nil || b == nil {
		return err
	}
	_, hash := b.configMap()
	backend, err := find("Deployment", docsFullname+"-backend")
	if err != nil {
		return err
	}
	spec, err := podSpec(backend)
	if err != nil {
		return err
	}
	addVolume(spec, m{"name": docsBrandingVolume, "configMap": m{"name": docsBrandingConfigMap, "items": list{m{"key": b.theme, "path": b.theme}}}})
	for _, c := range containers(spec, "containers") {
		addMount(c, m{"name": docsBrandingVolume, "mountPath": docsBackendBrandMount, "readOnly": true})
		setEnv(c, "THEME_CUSTOMIZATION_FILE_PATH", docsBackendBrandMount+"/"+b.theme)
		if b.css != "" {
			setEnv(c, "FRONTEND_CSS_URL", docsBrandingPath+"/"+b.css)
		}
	}
	podAnnotations(backend)[brandingHashAnnotation] = hash
	if len(b.served) == 0 {
		return nil
	}
	frontend, err := find("Deployment", docsFullname+"-frontend")
	if err != nil {
		return err
	}
	if spec, err = podSpec(frontend); err != nil {
		return err
	}
	var items list
	for _, k := range b.served {
		items = append(items, m{"key": k, "path": k})
	}
	addVolume(spec, m{"name": docsBrandingVolume, "configMap": m{"name": docsBrandingConfigMap, "items": items}})
	for _, c := range containers(spec, "containers") {
		addMount(c, m{"name": docsBrandingVolume, "mountPath": docsFrontendBrandMount, "readOnly": true})
	}
	podAnnotations(frontend)[brandingHashAnnotation] = hash
	return nil
}
