package installer

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/k3s"
)

// JoinPort is one port a joining host must reach on the server it joins (k3s's inbound rules
// for server nodes, docs.k3s.io/installation/requirements#inbound-rules-for-k3s-nodes, plus the
// embedded registry mirror's peer port, docs.k3s.io/installation/registry-mirror).
type JoinPort struct {
	Port  int    `json:"port"`
	Proto string `json:"proto"`
	What  string `json:"what"`
	// ServersOnly: only a joining server needs it (etcd's peers).
	ServersOnly bool `json:"serversOnly,omitempty"`
}

// JoinPorts are the ports between the nodes.
var JoinPorts = []JoinPort{
	{6443, "tcp", "the k3s supervisor and Kubernetes API", false},
	{2379, "tcp", "etcd clients", true},
	{2380, "tcp", "etcd peers", true},
	{10250, "tcp", "the kubelet (logs, exec, metrics)", false},
	{5001, "tcp", "the embedded registry mirror's peers", false},
	{8472, "udp", "flannel's VXLAN between the pod networks", false},
}

// Clock skew etcd tolerates between its members: it warns past 1 s (rafthttp's clock drift
// probe); an HTTP Date has a resolution of 1 s, so the limit is 2 s.
const (
	maxClockSkew  = 2 * time.Second
	warnClockSkew = time.Second
)

// etcd's rule for its disk: the 99th percentile of fdatasync below 10 ms
// (etcd.io/docs/v3.6/op-guide/hardware/#disks, "wal_fsync_duration_seconds p99 < 10ms").
const maxFdatasyncP99 = 10 * time.Millisecond

// JoinCheck is one finding of the join preflight.
type JoinCheck struct {
	ID     string `json:"id"`
	OK     bool   `json:"ok"`
	Warn   bool   `json:"warn,omitempty"`
	Detail string `json:"detail"`
}

// JoinPreflightError is a preflight with failures; the command says each.
type JoinPreflightError struct{ Failed []JoinCheck }

func (e *JoinPreflightError) Error() string {
	var parts []string
	for _, c := range e.Failed {
		parts = append(parts, c.ID+": "+c.Detail)
	}
	return "join preflight: " + strings.Join(parts, "; ")
}

// joinProbe is what the preflight reaches the server with: the network and the clock are real
// in production; tests point them at servers on 127.0.0.1.
type joinProbe struct {
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// HTTP fetches the server's /cacerts (k3s serves its CA bundle there unauthenticated, the
	// first step of its TLS bootstrap, docs.k3s.io/cli/token) without verifying: the token's
	// hash verifies it.
	HTTP *http.Client
	Now  func() time.Time
	// Samples is how many fdatasync calls the disk check times.
	Samples int
}

func (p *joinProbe) defaults() {
	if p.Dial == nil {
		d := &net.Dialer{Timeout: 3 * time.Second}
		p.Dial = d.DialContext
	}
	if p.HTTP == nil {
		p.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the CA is checked against the token's hash
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Samples == 0 {
		p.Samples = 200
	}
}

// joinPreflight checks what a join needs before anything changes on the host.
func (p *joinProbe) run(ctx context.Context, server, token string, role k3s.Role, dataDir string) []JoinCheck {
	p.defaults()
	u, _ := url.Parse(server)
	host := u.Hostname()
	var out []JoinCheck
	for _, jp := range JoinPorts {
		if jp.ServersOnly && role != k3s.RoleServer {
			continue
		}
		out = append(out, p.port(ctx, host, jp))
	}
	out = append(out, p.cacerts(ctx, server, token)...)
	if role == k3s.RoleServer {
		out = append(out, fdatasyncCheck(dataDir, p.Samples))
	}
	return out
}

func (p *joinProbe) port(ctx context.Context, host string, jp JoinPort) JoinCheck {
	id := fmt.Sprintf("port-%d-%s", jp.Port, jp.Proto)
	addr := net.JoinHostPort(host, fmt.Sprint(jp.Port))
	if jp.Proto == "udp" {
		// UDP answers nothing to a probe: it cannot be checked from here.
		return JoinCheck{ID: id, OK: true, Warn: true, Detail: fmt.Sprintf("%s (%s %d/udp) cannot be probed: make sure the firewall between the nodes lets it through", jp.What, host, jp.Port)}
	}
	c, err := p.Dial(ctx, "tcp", addr)
	if err != nil {
		return JoinCheck{ID: id, Detail: fmt.Sprintf("%s: %s does not answer (%v): open %d/tcp between the nodes", jp.What, addr, err, jp.Port)}
	}
	c.Close()
	return JoinCheck{ID: id, OK: true, Detail: addr + " answers"}
}

// cacerts fetches the server's CA bundle: the clock skew from its Date, and the CA against the
// hash the token pins (what k3s checks too, before it sends the token).
func (p *joinProbe) cacerts(ctx context.Context, server, token string) []JoinCheck {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/cacerts", nil)
	if err != nil {
		return []JoinCheck{{ID: "server-ca", Detail: err.Error()}}
	}
	before := p.Now()
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return []JoinCheck{{ID: "server-ca", Detail: fmt.Sprintf("fetching %s/cacerts: %v", server, err)}}
	}
	defer resp.Body.Close()
	after := p.Now()
	ca, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out []JoinCheck
	switch {
	case err != nil || resp.StatusCode != http.StatusOK:
		out = append(out, JoinCheck{ID: "server-ca", Detail: fmt.Sprintf("fetching %s/cacerts: %s %v: is it a k3s server?", server, resp.Status, err)})
	default:
		out = append(out, caCheck(ca, token))
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return append(out, JoinCheck{ID: "clock-skew", OK: true, Warn: true, Detail: "the server sent no Date: the clocks could not be compared"})
	}
	local := before.Add(after.Sub(before) / 2)
	skew := date.Sub(local).Round(100 * time.Millisecond)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	c := JoinCheck{ID: "clock-skew", OK: abs <= maxClockSkew, Warn: abs > warnClockSkew,
		Detail: fmt.Sprintf("this host's clock is %s from the server's", skew)}
	if !c.OK || c.Warn {
		c.Detail += ": synchronise both with NTP (timedatectl set-ntp true); etcd members drift apart past 1s"
	}
	return append(out, c)
}

// caCheck compares the server's CA with the token's pinned hash (K10<sha256>::...).
func caCheck(ca []byte, token string) JoinCheck {
	want, _, ok := strings.Cut(strings.TrimPrefix(token, "K10"), "::")
	if !strings.HasPrefix(token, "K10") || !ok {
		return JoinCheck{ID: "server-ca", OK: true, Warn: true, Detail: "the token is in k3s's short format: the server's CA cannot be checked before joining (use the token `node token create` printed)"}
	}
	sum := sha256.Sum256(ca)
	if hex.EncodeToString(sum[:]) != want {
		return JoinCheck{ID: "server-ca", Detail: "the server's CA does not match the token: this is not the cluster the token was made for (or someone is in between)"}
	}
	return JoinCheck{ID: "server-ca", OK: true, Detail: "the server's CA matches the token"}
}

// fdatasyncCheck times fdatasync of 2300-byte writes (the size etcd's own benchmark, fio's
// etcd job, uses) in the folder etcd will keep its WAL in.
func fdatasyncCheck(dir string, samples int) JoinCheck {
	p99, err := fdatasyncP99(dir, samples)
	if err != nil {
		return JoinCheck{ID: "etcd-disk", Detail: fmt.Sprintf("timing fdatasync in %s: %v", dir, err)}
	}
	c := JoinCheck{ID: "etcd-disk", OK: p99 <= maxFdatasyncP99, Detail: fmt.Sprintf("fdatasync p99 %s in %s", p99.Round(10*time.Microsecond), dir)}
	if !c.OK {
		c.Detail += fmt.Sprintf(": etcd needs under %s (an SSD, not a network or spinning disk), or the cluster stalls", maxFdatasyncP99)
	}
	return c
}

func fdatasyncP99(dir string, samples int) (time.Duration, error) {
	f, err := os.CreateTemp(dir, ".docs-appliance-fsync-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 2300)
	times := make([]time.Duration, 0, samples)
	for range samples {
		if _, err := f.Write(block); err != nil {
			return 0, err
		}
		start := time.Now()
		if err := fdatasync(f); err != nil {
			return 0, err
		}
		times = append(times, time.Since(start))
	}
	if len(times) == 0 {
		return 0, errors.New("no sample")
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[(len(times)*99+99)/100-1], nil
}

// etcdDiskDir is where etcd will write, or the nearest folder above it that exists (the same
// disk, short of a mount in between): the preflight creates nothing on the host.
func etcdDiskDir(root string) string {
	dir := filepath.Join(root, k3s.DataDir, "server", "db")
	for {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}
