package status

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// manualClock is a clock the test moves by hand.
type manualClock struct{ t time.Time }

func (c *manualClock) now() time.Time      { return c.t }
func (c *manualClock) add(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *manualClock {
	return &manualClock{t: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
}

func TestPlainLines(t *testing.T) {
	var b bytes.Buffer
	s := New(&b, Plain)
	c := newClock()
	s.now = c.now
	s.Start("writing config")
	s.Info("wrote %d files", 3)
	c.add(2 * time.Second)
	s.End(nil)
	s.Start("starting k3s")
	err := s.End(errors.New("boom"))
	if err == nil || err.Error() != "boom" {
		t.Fatalf("End must return its error, got %v", err)
	}
	s.Skip("loading images", "already loaded")
	want := "► writing config\n• wrote 3 files\n✔ writing config (2.0s)\n► starting k3s\n✗ starting k3s\n◎ loading images: already loaded\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestJSONEvents(t *testing.T) {
	var b bytes.Buffer
	s := New(&b, JSON)
	c := newClock()
	s.now = c.now
	s.Start("importing bundle")
	c.add(time.Second)
	s.Bytes(512, 1024)
	s.End(nil)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 events, got %q", lines)
	}
	var p event
	if err := json.Unmarshal([]byte(lines[1]), &p); err != nil {
		t.Fatal(err)
	}
	if p.Event != "progress" || p.Done != 512 || p.Total != 1024 || p.PerSec != 512 {
		t.Fatalf("progress event = %+v", p)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 30: "3.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := ProgressBar(50, 100, 10); !strings.HasPrefix(got, "[##########..........]") {
		t.Errorf("bar = %q", got)
	}
}
