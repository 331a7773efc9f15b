package render

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// configMapVolume lays out a ConfigMap volume as the kubelet does (files
// in a timestamped folder, ..data pointing at it, each item a symlink
// through ..data), so nginx reads them through the same symlinks.
func configMapVolume(t *testing.T, dir string, files map[string][]byte, items map[string]string) {
	t.Helper()
	data := filepath.Join(dir, "..2026_12_02_00_00_00.000000001")
	for p, key := range items {
		target := filepath.Join(data, p)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, files[key], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", p), filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// TestDocsFrontendServesTheBranding serves the frontend's mount with a
// real nginx configured as Docs v5.4.1's frontend image serves /app (its
// src/frontend/apps/impress/conf/default.conf: root /app, try_files $uri;
// the image's nginx.conf includes mime.types), and fetches every URL the
// theme file and FRONTEND_CSS_URL name: each answers with the file the
// config gave and the type a browser needs to use it.
func TestDocsFrontendServesTheBranding(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs nginx")
	}
	mime := "/etc/nginx/mime.types"
	kit.File(t, mime, "nginx's mime.types", "apt-get install nginx-core")
	f, objs := brandedFixture(t)
	files := configMapFiles(t, objs["ConfigMap/docs/docs-branding"])
	_, frontendSpec := podTemplate(t, objs["Deployment/docs/docs-frontend"])
	_, backendSpec := podTemplate(t, objs["Deployment/docs/docs-backend"])
	env := envValues(containers(backendSpec, "containers")[0])

	root := filepath.Join(t.TempDir(), "app")
	mount := filepath.Join(root, strings.TrimPrefix(docsFrontendBrandMount, "/app/"))
	if err := os.MkdirAll(mount, 0o755); err != nil {
		t.Fatal(err)
	}
	items := map[string]string{}
	for p, k := range mountedKeys(t, frontendSpec, docsFrontendBrandMount) {
		items[strings.TrimPrefix(p, docsFrontendBrandMount+"/")] = k
	}
	configMapVolume(t, mount, files, items)
	conf := fmt.Sprintf(`server {
    listen %d;
    root %s;
    include %s;
    location = /healthz { return 200; }
    location / {
        try_files $uri index.html $uri/index.html =404;
    }
}
server {
    listen %d;
    return 404;
}
`, proxyMediaPort, root, mime, proxyBackendPort)
	base, _ := nginxServer(t, conf)

	var th docsTheme
	if err := json.Unmarshal(files[mountedKeys(t, backendSpec, docsBackendBrandMount)[env["THEME_CUSTOMIZATION_FILE_PATH"]]], &th); err != nil {
		t.Fatal(err)
	}
	a := f.opts.Branding
	for _, u := range []struct {
		url, mediaType string
		want           []byte
	}{
		{th.Header.Icon.Src, "image/svg+xml", a.Logo.Data},
		{th.Home.IconBanner.Src, "image/svg+xml", a.Logo.Data},
		{th.Favicon.Light.Href, th.Favicon.Light.Type, a.Favicon.Data},
		{env["FRONTEND_CSS_URL"], "text/css", []byte(docsPaletteCSS(a.PrimaryColor))},
	} {
		resp, err := http.Get(base + u.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != u.mediaType || string(body) != string(u.want) {
			t.Errorf("GET %s: %d %q, %d bytes; want 200 %q, the config's %d bytes", u.url, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), u.mediaType, len(u.want))
		}
	}
}
