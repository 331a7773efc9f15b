package backup_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/backup/backuptest"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// The media part over versitygw on loopback: 1000 objects of 4 KiB copied (each read back and
// hashed), then the same 1000 found unchanged (one HEAD each).
func BenchmarkMediaCopy1000(b *testing.B) {
	s := backuptest.StartStore(b, nil, "media", "backups")
	for i := range 1000 {
		s.Put(b, "media", fmt.Sprintf("documents/%04d.bin", i), make([]byte, 4096))
	}
	media := func(prefix string) []steps.Step {
		n := &backup.Now{Target: s.Target("backups", prefix), ID: "20261202T031500Z", Media: backup.Media{Source: s.Target("media", "")}}
		list, err := n.Steps()
		if err != nil {
			b.Fatal(err)
		}
		return list[2:3]
	}
	b.Run("copy", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := steps.Run(context.Background(), status.Discard(), media(fmt.Sprintf("run%d/", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		if _, err := steps.Run(context.Background(), status.Discard(), media("again/")); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := steps.Run(context.Background(), status.Discard(), media("again/")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
