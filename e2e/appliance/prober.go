//go:build e2e

package appliance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Availability is what a Prober saw: the app's answers over a stretch of time.
type Availability struct {
	// Answers and Failures count the probes (a failure: no connection, no 200, or a timeout).
	Answers, Failures int
	// LongestGap is the longest time between two successful answers (or from the start to the
	// first one), and GapEnd when it ended.
	LongestGap time.Duration
	GapEnd     time.Time
	// Versions are the STANDIN_VERSION values that answered, in order, repeats folded.
	Versions []string
	// FirstFailure is the first failed probe's error, for the log.
	FirstFailure string
	Took         time.Duration
}

func (a Availability) String() string {
	s := fmt.Sprintf("%d answers, %d failures in %s; longest gap between answers %s; versions %s",
		a.Answers, a.Failures, a.Took.Round(100*time.Millisecond), a.LongestGap.Round(time.Millisecond), strings.Join(a.Versions, " → "))
	if a.FirstFailure != "" {
		s += "; first failure: " + a.FirstFailure
	}
	return s
}

// Prober GETs http://<addr>/ from inside the node's network namespace (where Services answer)
// every interval until Stop, each time on a new connection (so the Service picks a backend each
// time, as a new client would), and reads the stand-in's STANDIN_VERSION line.
type Prober struct {
	stop chan struct{}
	done chan Availability
}

// StartProber starts probing addr (a ClusterIP:port) every interval.
func (e *Env) StartProber(addr string, interval time.Duration) (*Prober, error) {
	ns, err := os.Open("/run/netns/" + e.Node.Name)
	if err != nil {
		return nil, fmt.Errorf("opening the node's network namespace: %w", err)
	}
	p := &Prober{stop: make(chan struct{}), done: make(chan Availability, 1)}
	ready := make(chan error, 1)
	go func() {
		// The thread joins the node's namespace for good: sockets made on it are the node's. It
		// is never unlocked, so the runtime ends it with the goroutine instead of reusing it.
		runtime.LockOSThread()
		err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		ready <- err
		if err != nil {
			return
		}
		p.done <- probe(addr, interval, p.stop)
	}()
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("entering the node's network namespace: %w", err)
	}
	return p, nil
}

// Stop ends the probing and returns what it saw.
func (p *Prober) Stop() Availability {
	close(p.stop)
	return <-p.done
}

func probe(addr string, interval time.Duration, stop chan struct{}) Availability {
	var a Availability
	start := time.Now()
	last := start
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		version, err := getOnce(addr, time.Second)
		now := time.Now()
		if err != nil {
			a.Failures++
			if a.FirstFailure == "" {
				a.FirstFailure = now.Format("15:04:05.000") + " " + err.Error()
			}
		} else {
			a.Answers++
			if gap := now.Sub(last); gap > a.LongestGap {
				a.LongestGap, a.GapEnd = gap, now
			}
			last = now
			if n := len(a.Versions); n == 0 || a.Versions[n-1] != version {
				a.Versions = append(a.Versions, version)
			}
		}
		select {
		case <-stop:
			a.Took = time.Since(start)
			if gap := time.Since(last); gap > a.LongestGap { // still down at the end
				a.LongestGap, a.GapEnd = gap, time.Now()
			}
			return a
		case <-tick.C:
		}
	}
}

// getOnce is one GET / on a fresh connection, made on the calling (namespaced) thread.
func getOnce(addr string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: standin\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "STANDIN_VERSION="); ok {
			return v, nil
		}
	}
	return "(unversioned)", nil
}

// InOrder checks that the versions a Prober saw (repeats folded) went through want in order: the
// first and the last are want's, each of want answered, and none answered after a version two or
// more newer had. During a rolling update the old and the new release both answer for a moment
// (the new one is Ready, the old one serves on through its preStop pause), so the sequence may go
// back and forth between neighbours: v2 v3 v2 v3.
func InOrder(seen []string, want ...string) error {
	rank := map[string]int{}
	for n, v := range want {
		rank[v] = n
	}
	if len(seen) == 0 || seen[0] != want[0] || seen[len(seen)-1] != want[len(want)-1] {
		return fmt.Errorf("versions answered %v, want %v in order", seen, want)
	}
	high, hit := 0, map[string]bool{}
	for _, v := range seen {
		r, ok := rank[v]
		if !ok || r < high-1 {
			return fmt.Errorf("versions answered %v, want %v in order (%s came out of turn)", seen, want, v)
		}
		hit[v], high = true, max(high, r)
	}
	if len(hit) != len(want) {
		return fmt.Errorf("versions answered %v: not every one of %v", seen, want)
	}
	return nil
}
