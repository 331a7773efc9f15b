// Command prober is the e2e tests' stand-in for the app's users: it sends GET URL every -every,
// each on a new connection (so each request may land on another endpoint of a Service), each
// with its own -timeout, and writes one line per request when it ends:
//
//	<start, Unix ms> <1 ok | 0 failed> <duration ms> <error or HTTP status, no spaces>
//
// until it gets SIGTERM or SIGINT (it then waits for the requests under way). With -every 0 it
// sends one request and exits 0 when it answered 200 and its body holds -want, 1 otherwise (a
// Job's pod: a pod of one node reaching a Service backed by another's).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "", "the address to GET")
	every := flag.Duration("every", 100*time.Millisecond, "how often to start a request; 0: one request")
	timeout := flag.Duration("timeout", time.Second, "how long one request may take")
	want := flag.String("want", "", "text the body must hold for the request to count as answered")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "prober: -url is required")
		os.Exit(2)
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	if *every == 0 {
		if _, err := probe(client, *url, *want); err != nil {
			fmt.Fprintln(os.Stderr, "prober:", err)
			os.Exit(1)
		}
		fmt.Println("answered")
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var mu sync.Mutex // one line at a time on stdout
	var wg sync.WaitGroup
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			status, err := probe(client, *url, *want)
			ok, what := 1, strings.ReplaceAll(status, " ", "_")
			if err != nil {
				ok, what = 0, strings.Join(strings.Fields(err.Error()), "_")
			}
			mu.Lock()
			fmt.Printf("%d %d %d %s\n", start.UnixMilli(), ok, time.Since(start).Milliseconds(), what)
			mu.Unlock()
		}()
	}
}

// probe GETs url and returns the status, or why the request did not count as answered.
func probe(c *http.Client, url, want string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	if !strings.Contains(string(body), want) {
		return "", fmt.Errorf("the body lacks %q", want)
	}
	return resp.Status, nil
}
