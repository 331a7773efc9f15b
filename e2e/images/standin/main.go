// Command standin stands in for an application in e2e tests: an HTTP server whose answer proves
// what the cluster gave it.
//
//	GET /         MESSAGE, then NAME=value for each variable named in SHOW_ENV (comma-separated),
//	              then "PATH: content" for each file named in SHOW_FILES (a mounted Secret, say)
//	GET /healthz  "ok" (liveness and readiness)
//	GET /resolve?host=NAME  the addresses NAME resolves to, one a line (proves cluster DNS)
//
// and Docs' user path (userpath.go): the config API, media refused, the
// collaboration websocket, and the embedded realm's discovery and login.
//
// It listens on :$PORT (8080 by default) in plain HTTP and, when
// TLS_CERT_FILE and TLS_KEY_FILE name a certificate and its key (a mounted
// TLS Secret's tls.crt and tls.key), on :$TLS_PORT (8443) over TLS, reading
// the files again when they change; on :$REDIRECT_PORT, when set, it
// redirects every request to https as a gateway's port 80 does. It stops
// on SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	o := options{Addr: ":" + envOr("PORT", "8080"), CertFile: os.Getenv("TLS_CERT_FILE"), KeyFile: os.Getenv("TLS_KEY_FILE")}
	if o.CertFile != "" {
		o.TLSAddr = ":" + envOr("TLS_PORT", "8443")
	}
	if p := os.Getenv("REDIRECT_PORT"); p != "" {
		o.RedirectAddr = ":" + p
	}
	return serve(ctx, o, func(plain, tls net.Addr) {
		log.Printf("standin listening on %s (http)", plain)
		if tls != nil {
			log.Printf("standin listening on %s (https, %s)", tls, o.CertFile)
		}
	})
}

// options say where the stand-in listens: Addr in plain HTTP, and TLSAddr
// over TLS with the certificate in CertFile and KeyFile when set.
type options struct {
	Addr, TLSAddr     string
	CertFile, KeyFile string
	// RedirectAddr answers every request with a redirect to https (the gateway's port 80).
	RedirectAddr string
}

// redirectToHTTPS is what a gateway's plain HTTP listener does.
func redirectToHTTPS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
}

// serve answers until ctx ends; ready is told the addresses listened on.
func serve(ctx context.Context, o options, ready func(plain, tls net.Addr)) error {
	h := handler()
	servers := []*http.Server{{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	listeners := []net.Listener{nil}
	var tlsAddr net.Addr
	if o.TLSAddr != "" {
		if o.CertFile == "" || o.KeyFile == "" {
			return fmt.Errorf("serving TLS on %s: TLS_CERT_FILE and TLS_KEY_FILE are both needed", o.TLSAddr)
		}
		// Read at each handshake: a certificate that is not there yet (an optional Secret)
		// fails handshakes, not the stand-in, and one that appears later is served.
		certs := &certReloader{certFile: o.CertFile, keyFile: o.KeyFile}
		if _, err := certs.get(nil); err != nil {
			log.Printf("no certificate yet: %v", err)
		}
		tlsLn, err := net.Listen("tcp", o.TLSAddr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", o.TLSAddr, err)
		}
		tlsAddr = tlsLn.Addr()
		servers = append(servers, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{GetCertificate: certs.get, MinVersion: tls.VersionTLS12}})
		listeners = append(listeners, tls.NewListener(tlsLn, servers[1].TLSConfig))
	}
	if o.RedirectAddr != "" {
		ln, err := net.Listen("tcp", o.RedirectAddr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", o.RedirectAddr, err)
		}
		servers = append(servers, &http.Server{Handler: redirectToHTTPS(), ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, ln)
	}
	plainLn, err := net.Listen("tcp", o.Addr)
	if err != nil {
		for _, ln := range listeners[1:] {
			ln.Close()
		}
		return fmt.Errorf("listening on %s: %w", o.Addr, err)
	}
	listeners[0] = plainLn
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	ready(plainLn.Addr(), tlsAddr)
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("shutting down: %w", err)
		}
	}
	return nil
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /resolve", func(w http.ResponseWriter, r *http.Request) {
		host := r.URL.Query().Get("host")
		if host == "" {
			http.Error(w, "want ?host=NAME", http.StatusBadRequest)
			return
		}
		addrs, err := net.DefaultResolver.LookupHost(r.Context(), host)
		if err != nil {
			http.Error(w, fmt.Sprintf("resolving %s: %v", host, err), http.StatusBadGateway)
			return
		}
		for _, a := range addrs {
			fmt.Fprintln(w, a)
		}
	})
	userPathRoutes(mux)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		msg := os.Getenv("MESSAGE")
		if msg == "" {
			msg = "standin"
		}
		fmt.Fprintln(w, msg)
		for _, name := range list(os.Getenv("SHOW_ENV")) {
			fmt.Fprintf(w, "%s=%s\n", name, os.Getenv(name))
		}
		for _, p := range list(os.Getenv("SHOW_FILES")) {
			data, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintf(w, "%s: error: %v\n", p, err)
				continue
			}
			fmt.Fprintf(w, "%s: %s\n", p, strings.TrimRight(string(data), "\n"))
		}
	})
	return mux
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
