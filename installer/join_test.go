package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// joinServer stands in for a k3s server's supervisor: /cacerts serves its CA with a Date, as k3s
// does before a join. Its TCP ports are listeners on 127.0.0.1, reached through probe.Dial.
type joinServer struct {
	url   string
	ca    []byte
	probe joinProbe
	open  map[int]bool
}

func newJoinServer(t *testing.T, skew time.Duration, open ...int) *joinServer {
	t.Helper()
	js := &joinServer{ca: []byte("-----BEGIN CERTIFICATE-----\nthe cluster's CA\n-----END CERTIFICATE-----\n"), open: map[int]bool{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cacerts" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		w.Write(js.ca)
	}))
	t.Cleanup(srv.Close)
	js.url = srv.URL
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, p := range open {
		js.open[p] = true
	}
	js.probe = joinProbe{HTTP: srv.Client(), Samples: 20, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		if !js.open[p] {
			return nil, errors.New("connection refused")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, ln.Addr().String())
	}}
	return js
}

func (js *joinServer) token() string {
	s := sha256.Sum256(js.ca)
	return "K10" + hex.EncodeToString(s[:]) + "::abcdef.0123456789abcdef"
}

func joinHost(t *testing.T) (*hosttest.Tree, *host.Recorder) {
	return hosttest.New(t).Write("/proc/sys/kernel/hostname", "docs-4\n").Mkdir("/etc/systemd/system").Mkdir("/var/lib"), &host.Recorder{}
}

func TestJoinPreflightPassesThenPlansTheK3sSteps(t *testing.T) {
	js := newJoinServer(t, 0, 6443, 2379, 2380, 10250, 5001)
	tr, rec := joinHost(t)
	j := &JoinAction{Root: tr.Root, Runner: rec, StateDir: nodeStateDir, Server: js.url, Token: js.token(), Role: k3s.RoleServer,
		Preflight: js.probe, train: trainForK3s(), DryRun: true}
	if err := j.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range j.Result.Plan {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != "join-preflight,k3s-binary,k3s-images,k3s-config,k3s-service,k3s-start,k3s-ready,k3s-kubeconfig" {
		t.Errorf("plan %v", ids)
	}
	// The preflight itself, as the step runs it.
	checks := js.probe.run(context.Background(), js.url, js.token(), k3s.RoleServer, t.TempDir())
	byID := map[string]JoinCheck{}
	for _, c := range checks {
		byID[c.ID] = c
	}
	for _, id := range []string{"port-6443-tcp", "port-2379-tcp", "port-2380-tcp", "port-10250-tcp", "port-5001-tcp", "server-ca", "clock-skew", "etcd-disk"} {
		if c, ok := byID[id]; !ok || !c.OK || c.Warn {
			t.Errorf("%s: %+v", id, c)
		}
	}
	// VXLAN is UDP: said, not probed.
	if c := byID["port-8472-udp"]; !c.OK || !c.Warn || !strings.Contains(c.Detail, "cannot be probed") {
		t.Errorf("udp: %+v", c)
	}
	if !strings.Contains(byID["etcd-disk"].Detail, "fdatasync p99") {
		t.Errorf("disk: %+v", byID["etcd-disk"])
	}
	if tr.Root.Exists(k3s.ConfigPath) || len(rec.Commands()) != 0 {
		t.Error("a dry run changed the host")
	}
}

func TestJoinPreflightFailsBeforeAnythingChanges(t *testing.T) {
	// 2380 closed, the clock 30 s ahead, and a token made for another cluster.
	js := newJoinServer(t, 30*time.Second, 6443, 2379, 10250, 5001)
	tr, rec := joinHost(t)
	other := "K10" + strings.Repeat("0", 64) + "::abcdef.0123456789abcdef"
	j := &JoinAction{Root: tr.Root, Runner: rec, StateDir: nodeStateDir, Server: js.url, Token: other, Role: k3s.RoleServer,
		Preflight: js.probe, train: pinnedTrain()}
	err := j.Run(context.Background(), status.Discard())
	var pf *JoinPreflightError
	if !errors.As(err, &pf) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"port-2380-tcp: etcd peers", "open 2380/tcp between the nodes", "server-ca: the server's CA does not match the token",
		"clock-skew: this host's clock is", "synchronise both with NTP"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "0123456789abcdef") {
		t.Error("the error repeats the token")
	}
	if tr.Root.Exists(k3s.ConfigPath) || tr.Root.Exists(k3s.TokenPath) || len(rec.Commands()) != 0 {
		t.Errorf("a failed preflight changed the host: %v", rec.Lines())
	}
	// An agent needs no etcd ports nor the disk check.
	agentChecks := js.probe.run(context.Background(), js.url, js.token(), k3s.RoleAgent, t.TempDir())
	for _, c := range agentChecks {
		if strings.HasPrefix(c.ID, "port-238") || c.ID == "etcd-disk" {
			t.Errorf("an agent is checked for %s", c.ID)
		}
	}
}

func TestBadJoinIsRefusedBeforeThePreflight(t *testing.T) {
	j := &JoinAction{Root: host.Root(t.TempDir()), Runner: &host.Recorder{}, Role: "worker", Server: "http://x", Token: "a b", train: pinnedTrain(), StateDir: nodeStateDir}
	err := j.Run(context.Background(), status.Discard())
	if err == nil || !strings.Contains(err.Error(), `join role "worker" is neither server nor agent`) || !strings.Contains(err.Error(), "give https://host:6443") {
		t.Errorf("bad join: %v", err)
	}
}
