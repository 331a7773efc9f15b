package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// ReachabilityPath is where the reachability proof serves its token.
const ReachabilityPath = "/.well-known/docs-appliance-reachability/"

// DomainReport is what the domain check found.
type DomainReport struct {
	Name string
	// Addresses are the name's DNS answers.
	Addresses []string
	// Reached is true when this host's token came back through the name.
	Reached bool
	// URL is the address the token was fetched from.
	URL string
}

// Domain checks a public host name: its syntax, that it resolves, and —
// when reach is set — that http://NAME/ leads to this host: it listens on
// port 80 with a random token and fetches the token back through the
// name, as discourse-setup does before asking for certificates.
func (l *Live) Domain(ctx context.Context, name string, reach bool) (*DomainReport, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	if err := config.ValidDomain(name); err != nil {
		return nil, err
	}
	rep := &DomainReport{Name: name}
	ips, err := l.resolver().LookupIPAddr(ctx, name)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return rep, fmt.Errorf("resolving %s: the name does not exist in DNS yet; add an A (or AAAA) record pointing to this server", name)
		}
		return rep, fmt.Errorf("resolving %s: %w", name, err)
	}
	if len(ips) == 0 {
		return rep, fmt.Errorf("resolving %s: no address; add an A (or AAAA) record pointing to this server", name)
	}
	for _, ip := range ips {
		rep.Addresses = append(rep.Addresses, ip.IP.String())
	}
	if !reach {
		return rep, nil
	}
	if err := l.reach(ctx, rep); err != nil {
		return rep, err
	}
	rep.Reached = true
	return rep, nil
}

func (l *Live) reach(ctx context.Context, rep *DomainReport) error {
	addr := l.ListenAddr
	if addr == "" {
		addr = ":80"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s for the reachability proof: %w (something else serves that port: stop it for the check, or skip the check)", addr, err)
	}
	defer ln.Close()
	tokenBytes := make([]byte, 16)
	if _, err := rand.Read(tokenBytes); err != nil {
		return fmt.Errorf("making the reachability token: %w", err)
	}
	token := hex.EncodeToString(tokenBytes)
	mux := http.NewServeMux()
	mux.HandleFunc(ReachabilityPath+token, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, token)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	port := ln.Addr().(*net.TCPAddr).Port
	u := "http://" + rep.Name + ReachabilityPath + token
	if port != 80 {
		u = "http://" + net.JoinHostPort(rep.Name, portString(port)) + ReachabilityPath + token
	}
	rep.URL = u
	client, err := l.httpClient()
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		return fmt.Errorf("redirected to %s", req.URL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s to prove %s reaches this host: %w (check that %s points here and that the firewall lets port %d in; a router that cannot loop back to its own public address fails this check even when the site works from outside)",
			u, rep.Name, err, strings.Join(rep.Addresses, ", "), port)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != token {
		return fmt.Errorf("fetching %s: answered %s without this host's token: %s (%s) leads to another machine or a proxy; point it here",
			u, resp.Status, rep.Name, strings.Join(rep.Addresses, ", "))
	}
	return nil
}
