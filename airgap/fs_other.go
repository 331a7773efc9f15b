//go:build unix && !linux

package airgap

import (
	"errors"
	"os"
)

// Build runs on a connected workstation, which may be a Mac; import's
// atomic exchange and preallocation are Linux matters, with plain
// fallbacks here.

func renameExchange(a, b string) error { return errors.ErrUnsupported }

func preallocate(*os.File, int64) {}
