package ha

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMeasureFindsTheLongestUnansweredStretch(t *testing.T) {
	const t0ms = 1_000_000_000_000
	// Every 100 ms for 2 s, out of order as requests end; those started at 300..900 ms
	// failed, and so did 1500.
	var out strings.Builder
	for _, ms := range []int{300, 0, 100, 200, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900} {
		ok := 1
		if (ms >= 300 && ms < 1000) || ms == 1500 {
			ok = 0
		}
		fmt.Fprintf(&out, "%d %d 3 200_OK\n", t0ms+ms, ok)
	}
	probes, err := ReadProbes(strings.NewReader(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(t0ms)
	o := Measure(probes, t0, t0.Add(2*time.Second))
	if o.Sent != 20 || o.Failed != 8 {
		t.Errorf("sent %d failed %d, want 20 and 8", o.Sent, o.Failed)
	}
	// Last answer before the stretch at 200 ms, the next at 1000 ms.
	if o.LongestGap != 800*time.Millisecond || !o.GapFrom.Equal(t0.Add(200*time.Millisecond)) {
		t.Errorf("longest gap %s from %s", o.LongestGap, o.GapFrom.Sub(t0))
	}
	if f := o.FailedFraction(); f != 0.4 {
		t.Errorf("failed fraction %v", f)
	}
	// A window where nothing answered is one gap, its whole length.
	w := Measure(probes, t0.Add(400*time.Millisecond), t0.Add(900*time.Millisecond))
	if w.Sent != 5 || w.Failed != 5 || w.LongestGap != 500*time.Millisecond {
		t.Errorf("got %+v", w)
	}
}

func TestReadProbesRefusesGarbage(t *testing.T) {
	if _, err := ReadProbes(strings.NewReader("12 yes 3\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("got %v", err)
	}
}
