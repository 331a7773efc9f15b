//go:build e2e

package install

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

// userPath is what a user's browser needs to reach the e2e appliance, made real on this host:
// a DNS server answering the domain with this host's address, port 443 on 127.0.0.1 carried to
// the stand-in edge (edge/standin-app-edge, serving the appliance's certificate) through a
// port-forward, a CA the "browser" trusts for it, and an external S3 store (versitygw over TLS)
// holding the media bucket.
type userPath struct {
	dns              *probetest.DNS
	caFiles          []string
	certFile, keyFil string
	installArgs      []string
	// ca issues the appliance's certificate; its root is in caFiles.
	ca *certtest.CA
}

// doctorArgs are the flags doctor and install need to check the user path this way.
func (u *userPath) doctorArgs() []string {
	args := []string{"--nameserver", u.dns.Addr}
	for _, f := range u.caFiles {
		args = append(args, "--ca-file", f)
	}
	return args
}

func (e *env) setUpUserPath(ctx context.Context, t *testing.T) *userPath {
	t.Helper()
	dir := t.TempDir()
	u := &userPath{dns: probetest.StartDNS(t, map[string][]netip.Addr{"docs.e2e.test": {netip.MustParseAddr("127.0.0.1")}})}
	users := certtest.NewRoot(t, "e2e users' CA")
	u.ca = users
	leaf := users.Issue(t, certtest.Leaf{Hosts: []string{"docs.e2e.test"}})
	u.certFile, u.keyFil = leaf.Write(t, dir)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s3CA := probetest.NewCA(t, "127.0.0.1")
	s3 := probetest.StartS3(t, s3CA, true)
	s3.CreateBucket(t, "docs-media", true)
	u.caFiles = []string{write("users-ca.pem", certtest.CertPEM(users.Cert)), write("s3-ca.pem", s3CA.PEM)}
	u.installArgs = append([]string{"--set", "tls.mode=provided", "--set", "tls.certFile=" + u.certFile, "--set", "tls.keyFile=" + u.keyFil,
		"--set", "storage.mode=external", "--set", "storage.endpoint=" + s3.Endpoint, "--set", "storage.region=" + s3.Region, "--set", "storage.bucket=docs-media",
		"--secret", "storage.accessKeyID=" + write("s3-key", []byte(s3.AccessKey)), "--secret", "storage.secretAccessKey=" + write("s3-secret", []byte(s3.SecretKey))},
		u.doctorArgs()...)
	e.forwardPort(ctx, t, 443)
	e.forwardPort(ctx, t, 80)
	return u
}

// forwardPort carries 127.0.0.1:port to the same port of the stand-in edge's Service through
// port-forwards opened on demand (the Service appears with the install; a pod replaced by a
// rollout needs a new one).
func (e *env) forwardPort(ctx context.Context, t *testing.T, port int) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listening on 127.0.0.1:%d for the user path (is something else on that port?): %v", port, err)
	}
	var mu sync.Mutex
	var fwd *cluster.Forward
	dial := func() (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		for attempt := 0; ; attempt++ {
			if fwd == nil {
				f, err := e.c.PortForward(ctx, "edge", "service/"+appName+"-edge", port)
				if err != nil {
					return nil, err
				}
				fwd = f
			}
			c, err := net.DialTimeout("tcp", fwd.Addr, 5*time.Second)
			if err == nil || attempt > 0 {
				return c, err
			}
			_ = fwd.Close()
			fwd = nil
		}
	}
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := dial()
				if err != nil {
					return
				}
				defer out.Close()
				go func() { _, _ = io.Copy(out, in) }()
				if n, _ := io.Copy(in, out); n == 0 {
					// Nothing came back: the forward's pod is gone; the next connection opens a new one.
					mu.Lock()
					if fwd != nil {
						_ = fwd.Close()
						fwd = nil
					}
					mu.Unlock()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		if fwd != nil {
			_ = fwd.Close()
		}
		mu.Unlock()
	})
}
