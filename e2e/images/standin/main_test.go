package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnswerShowsMessageEnvAndFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MESSAGE", "hello from the fixture")
	t.Setenv("COLOR", "blue")
	t.Setenv("SHOW_ENV", "COLOR, UNSET_ONE")
	t.Setenv("SHOW_FILES", secret+",/nonexistent")
	srv := httptest.NewServer(handler())
	defer srv.Close()

	body := get(t, srv.URL+"/")
	want := "hello from the fixture\nCOLOR=blue\nUNSET_ONE=\n" + secret + ": s3cret\n/nonexistent: error: open /nonexistent: no such file or directory\n"
	if body != want {
		t.Fatalf("got %q, want %q", body, want)
	}
	if body := get(t, srv.URL+"/healthz"); body != "ok\n" {
		t.Fatalf("healthz %q", body)
	}
	if body := get(t, srv.URL+"/resolve?host=localhost"); !strings.Contains(body, "127.0.0.1") && !strings.Contains(body, "::1") {
		t.Fatalf("resolve localhost: %q", body)
	}
	resp, err := srv.Client().Get(srv.URL + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/other answered %d", resp.StatusCode)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
