package validate

import (
	"context"
	"testing"
)

// BenchmarkValidateRenderedRepository validates the whole rendered example repository (every
// layer built, every object checked, every Secret decrypted): the budget is 2 s.
func BenchmarkValidateRenderedRepository(b *testing.B) {
	f := rendered(b)
	o := f.options()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Run(context.Background(), f.dir, o)
		if err != nil {
			b.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			b.Fatal(err)
		}
	}
}
