package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// configOfSize writes the example config followed by as many extraDomains
// as make it about size bytes: the list is what a real config could grow.
func configOfSize(b *testing.B, size int) string {
	b.Helper()
	head, err := os.ReadFile("../../examples/appliance.yaml")
	if err != nil {
		b.Fatal(err)
	}
	buf := append(head, "extraDomains:\n"...)
	for i := 0; len(buf) < size-40; i++ {
		buf = fmt.Appendf(buf, "  - host%07d.example.org\n", i)
	}
	path := filepath.Join(b.TempDir(), "appliance.yaml")
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchmarkLoad(b *testing.B, path string, wantErr error) {
	b.ReportAllocs()
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(info.Size())
	for b.Loop() {
		_, err := Load(path)
		if wantErr == nil && err != nil {
			b.Fatal(err)
		}
		if wantErr != nil && !errors.Is(err, wantErr) {
			b.Fatalf("got %v, want %v", err, wantErr)
		}
	}
}

// BenchmarkLoadExample is a normal config.
func BenchmarkLoadExample(b *testing.B) { benchmarkLoad(b, "../../examples/appliance.yaml", nil) }

// BenchmarkLoadAtLimit is the largest config Load accepts (1 MiB, some
// 38,000 host names): the bound on what parsing can cost.
func BenchmarkLoadAtLimit(b *testing.B) { benchmarkLoad(b, configOfSize(b, MaxFileSize), nil) }

// BenchmarkLoadOversize is a 50 MB file: refused from its size, unread.
func BenchmarkLoadOversize(b *testing.B) { benchmarkLoad(b, configOfSize(b, 50<<20), ErrTooLarge) }
