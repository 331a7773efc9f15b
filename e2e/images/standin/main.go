// Command standin stands in for an application in e2e tests: an HTTP server whose answer proves
// what the cluster gave it.
//
//	GET /         MESSAGE, then NAME=value for each variable named in SHOW_ENV (comma-separated),
//	              then "PATH: content" for each file named in SHOW_FILES (a mounted Secret, say)
//	GET /healthz  "ok" (liveness and readiness)
//	GET /resolve?host=NAME  the addresses NAME resolves to, one a line (proves cluster DNS)
//
// It listens on :$PORT (8080 by default) and stops on SIGTERM.
package main

import (
	"context"
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
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("standin listening on :%s", port)
	select {
	case err := <-errc:
		return fmt.Errorf("serving on :%s: %w", port, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
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
