package doctor

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/suitenumerique/docs-appliance/installer/render"
)

const backendFix = "Docs' backend is failing: the app checks above say which part; its logs are in doctor --support-bundle FILE"

// get fetches https://domain+path as a browser without cookies would, once
// the domain leads here. A nil response comes with the finding to report.
func (e *Env) get(ctx context.Context, domain, path string, header http.Header) (*http.Response, []byte, *Finding) {
	if _, nr := e.reach(ctx, domain); nr != nil {
		return nil, nil, nr
	}
	client, err := e.client()
	if err != nil {
		f := Unreachable("preparing the requests", err, "install the ca-certificates package")
		return nil, nil, &f
	}
	defer client.CloseIdleConnections()
	u := "https://" + domain + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		f := Fail("", "requesting %s: %v", u, err)
		return nil, nil, &f
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		f := unreached(domain, "requesting "+u, err)
		return nil, nil, &f
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		f := unreached(domain, "reading the answer of "+u, err)
		return nil, nil, &f
	}
	return resp, body, nil
}

// checkConfigAPI: GET /api/v1.0/config/ is the first call Docs' page
// makes; it answers a JSON object of public settings.
func checkConfigAPI(ctx context.Context, e *Env) Finding {
	return eachDomain(ctx, e, func(ctx context.Context, domain string) Finding {
		const path = "/api/v1.0/config/"
		resp, body, nr := e.get(ctx, domain, path, http.Header{"Accept": {"application/json"}})
		if nr != nil {
			return *nr
		}
		if resp.StatusCode != http.StatusOK {
			fix := backendFix
			if resp.StatusCode < 500 {
				fix = "the request did not reach Docs: check the edge checks above (routes accepted) and run docs-appliance install again to restore the routes"
			}
			return Fail(fix, "https://%s%s answered %s", domain, path, resp.Status)
		}
		var settings map[string]any
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if !strings.Contains(mt, "json") || json.Unmarshal(body, &settings) != nil {
			return Fail("another web server answers for "+domain+": check the domain's DNS and that nothing else listens on port 443 of this server",
				"https://%s%s answered %s, not Docs' JSON settings", domain, path, orUnknown(mt))
		}
		return Pass("%s: the API answers (%d settings)", domain, len(settings))
	})
}

// checkMediaAuth: an anonymous request for an attachment is refused by
// Docs' media authorization. The path matches Docs' attachment pattern
// (MEDIA_STORAGE_URL_PATTERN) so the backend is asked, not just nginx.
func checkMediaAuth(ctx context.Context, e *Env) Finding {
	path := fmt.Sprintf("/media/%s/attachments/%s.png", uuid(), uuid())
	return eachDomain(ctx, e, func(ctx context.Context, domain string) Finding {
		resp, _, nr := e.get(ctx, domain, path, nil)
		if nr != nil {
			return *nr
		}
		switch s := resp.StatusCode; {
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return Pass("%s: an anonymous media request is refused (%d)", domain, s)
		case s >= 200 && s < 300:
			return Fail("media files are public: run docs-appliance install again to restore the media proxy's configuration (docs-proxy), then check that documents' attachments need a login",
				"%s served %s to an anonymous request (%s): media is public", domain, path, resp.Status)
		case s >= 500:
			return Fail("the media proxy cannot ask Docs' backend: see the app checks above and doctor --support-bundle FILE for docs-proxy's logs",
				"%s answered %s to a media request instead of refusing it", domain, resp.Status)
		}
		return Fail("the media request did not reach the media proxy: run docs-appliance install again to restore the /media route",
			"%s answered %s to a media request instead of refusing it (401 or 403)", domain, resp.Status)
	})
}

// uuid is a random version 4 UUID, as Docs names documents and attachments.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// wsCloseWait is how long the websocket check listens after the upgrade
// for y-provider refusing the page's origin (it closes at once).
const wsCloseWait = time.Second

// checkWebsocket: the collaboration websocket on /collaboration/ws/
// upgrades (101 with the Sec-WebSocket-Accept RFC 6455 derives from the
// key) with the page's origin, as Docs' editor opens it; y-provider then
// closes an anonymous connection ("No cookies"), but a refused origin is a
// finding: collaboration from that domain cannot work.
func checkWebsocket(ctx context.Context, e *Env) Finding {
	return eachDomain(ctx, e, func(ctx context.Context, domain string) Finding {
		if _, nr := e.reach(ctx, domain); nr != nil {
			return *nr
		}
		u := "wss://" + domain + render.CollaborationWSPath + "?room=" + uuid()
		d := websocket.Dialer{
			NetDialContext:   e.live().DialContext,
			TLSClientConfig:  &tls.Config{RootCAs: e.UserPath.Roots, MinVersion: tls.VersionTLS12},
			HandshakeTimeout: 10 * time.Second,
		}
		conn, resp, err := d.DialContext(ctx, u, http.Header{"Origin": {"https://" + domain}})
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				return Fail("something between the browser and the appliance rewrites websocket handshakes: remove the proxy in front of this server, or make it pass websockets through",
					"%s answered 101 with a wrong Sec-WebSocket-Accept", domain)
			}
			return Fail("the collaboration route does not reach the collaboration server: see the app checks above (y-provider running) and run docs-appliance install again to restore the route",
				"%s answered %s instead of opening the websocket %s", domain, resp.Status, render.CollaborationWSPath)
		}
		if err != nil {
			return unreached(domain, "opening "+u, err)
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(wsCloseWait))
		_, _, err = conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == 4001 && strings.Contains(ce.Text, "Origin") {
			return Fail("the collaboration server does not accept pages from https://"+domain+" (COLLABORATION_SERVER_ORIGIN): run docs-appliance install again; if this domain was added since, the collaboration server needs it listed",
				"%s opened the websocket, then refused the origin https://%s (%d %s)", domain, domain, ce.Code, ce.Text)
		}
		return Pass("%s: the collaboration websocket opens (101)", domain)
	})
}

func orUnknown(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}
