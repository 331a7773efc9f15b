package airgap

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/suitenumerique/docs-appliance/bundles"
)

func (e *testEnv) remote() RemoteOptions {
	return RemoteOptions{HTTPClient: e.client, Keychain: authn.NewMultiKeychain()}
}

func TestLockFillsEveryDigestFromTheServers(t *testing.T) {
	e := newTestEnv(t)
	e.mu.Lock()
	e.served = map[string]int{} // forget the test's own pushes
	e.mu.Unlock()
	res, err := Lock(context.Background(), e.train(t, false), e.remote())
	if err != nil {
		t.Fatal(err)
	}
	want := e.train(t, true)
	got := res.Train
	if !got.Locked() {
		t.Fatalf("still unlocked: %v", got.Unlocked())
	}
	for i := range want.Images {
		if got.Images[i].Digest != want.Images[i].Digest {
			t.Errorf("image %s: digest %s, registry has %s", want.Images[i].Reference, got.Images[i].Digest, want.Images[i].Digest)
		}
	}
	for i := range want.Charts {
		if got.Charts[i].SHA256 != want.Charts[i].SHA256 {
			t.Errorf("chart %s: sha256 %s, want %s", want.Charts[i].Name, got.Charts[i].SHA256, want.Charts[i].SHA256)
		}
	}
	for arch, a := range want.K3s.Artifacts {
		if got.K3s.Artifacts[arch] != a {
			t.Errorf("k3s %s: %+v, want %+v", arch, got.K3s.Artifacts[arch], a)
		}
	}
	if len(res.Pinned) != len(e.train(t, false).Unlocked()) {
		t.Errorf("pinned %d fields, the train missed %d", len(res.Pinned), len(e.train(t, false).Unlocked()))
	}
	// Locking resolves image digests without pulling any image layer.
	e.mu.Lock()
	for p, n := range e.served {
		if strings.Contains(p, "/docs/backend/blobs/") && n > 0 {
			t.Errorf("lock downloaded %s", p)
		}
	}
	e.mu.Unlock()

	// Locking a locked train changes nothing.
	again, err := Lock(context.Background(), got, e.remote())
	if err != nil || len(again.Pinned) != 0 {
		t.Fatalf("relock pinned %v, %v", again.Pinned, err)
	}
}

func TestLockRefusesAMovedTag(t *testing.T) {
	e := newTestEnv(t)
	tr := e.train(t, true)
	tr.Images[0].Digest = "sha256:" + strings.Repeat("0", 64)
	_, err := Lock(context.Background(), tr, e.remote())
	if err == nil || !strings.Contains(err.Error(), "images[0].digest") || !strings.Contains(err.Error(), "tag was moved") {
		t.Fatalf("err = %v", err)
	}
}

func TestLockFileAndFetchCharts(t *testing.T) {
	e := newTestEnv(t)
	art := map[string]string{}
	var b bytes.Buffer
	if err := template.Must(template.New("t").Parse(trainTemplate)).Execute(&b, map[string]any{
		"URL": e.srv.URL, "Host": e.host, "Locked": false, "Art": art, "Charts": e.chartSHA, "Images": imagesOf(e),
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "2030.01.yaml")
	os.WriteFile(path, append([]byte("# reviewed by people\n"), b.Bytes()...), 0o644)

	// Charts of an unlocked train cannot be verified: refused.
	unlocked, _ := bundles.ParseTrain(b.Bytes())
	if _, err := FetchCharts(context.Background(), unlocked, t.TempDir(), e.remote()); err == nil || !strings.Contains(err.Error(), "make lock") {
		t.Fatalf("err = %v", err)
	}

	if _, err := LockFile(context.Background(), path, e.remote()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	tr, err := bundles.ParseTrain(data)
	if err != nil || !tr.Locked() || !strings.HasPrefix(string(data), "# reviewed by people") {
		t.Fatalf("locked file: %v\n%s", err, data)
	}

	dir := t.TempDir()
	written, err := FetchCharts(context.Background(), tr, dir, e.remote())
	if err != nil || len(written) != len(tr.Charts) {
		t.Fatalf("written %v, %v", written, err)
	}
	for _, c := range tr.Charts {
		if _, err := bundles.DirStore(dir).Open(c); err != nil {
			t.Errorf("chart %s: %v", c.Name, err)
		}
	}
	again, err := FetchCharts(context.Background(), tr, dir, e.remote())
	if err != nil || len(again) != 0 {
		t.Fatalf("second fetch wrote %v, %v", again, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), ".fetch-") {
			t.Errorf("staging folder left behind: %s", en.Name())
		}
	}
}

func imagesOf(e *testEnv) []struct{ Ref, Digest, Chart string } {
	var out []struct{ Ref, Digest, Chart string }
	for _, ref := range testImages {
		out = append(out, struct{ Ref, Digest, Chart string }{e.host + "/" + ref, "", imageChart(ref)})
	}
	return out
}
