package probe_test

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain quiets the OpenID provider's request log (it logs through slog's default).
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
