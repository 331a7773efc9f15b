package ha

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Probe is one request of the prober (e2e/ha/prober): when it started and whether it was
// answered.
type Probe struct {
	Start time.Time
	OK    bool
	Took  time.Duration
	Why   string
}

// ReadProbes parses the prober's lines (<start ms> <1|0> <ms> <why>), sorted by start.
func ReadProbes(r io.Reader) ([]Probe, error) {
	var out []Probe
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			return nil, fmt.Errorf("reading the prober's line %d %q: want <start> <ok> <ms> <why>", n, sc.Text())
		}
		start, err1 := strconv.ParseInt(f[0], 10, 64)
		took, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || (f[1] != "0" && f[1] != "1") {
			return nil, fmt.Errorf("reading the prober's line %d %q: not numbers", n, sc.Text())
		}
		p := Probe{Start: time.UnixMilli(start), OK: f[1] == "1", Took: time.Duration(took) * time.Millisecond}
		if len(f) > 3 {
			p.Why = strings.Join(f[3:], " ")
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the prober's output: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// Outage is what the users of a window saw.
type Outage struct {
	// Sent and Failed count the requests started in the window.
	Sent, Failed int
	// LongestGap is the longest time in the window between the starts of two answered requests
	// (from the window's start or to its end when no request answered there): how long a user
	// retrying at once could go unanswered.
	LongestGap time.Duration
	// GapFrom is when LongestGap began.
	GapFrom time.Time
}

// FailedFraction is Failed/Sent (0 with nothing sent).
func (o Outage) FailedFraction() float64 {
	if o.Sent == 0 {
		return 0
	}
	return float64(o.Failed) / float64(o.Sent)
}

// Measure sums up the probes started in [from, to).
func Measure(probes []Probe, from, to time.Time) Outage {
	o := Outage{}
	last := from
	for _, p := range probes {
		if p.Start.Before(from) || !p.Start.Before(to) {
			continue
		}
		o.Sent++
		if !p.OK {
			o.Failed++
			continue
		}
		if gap := p.Start.Sub(last); gap > o.LongestGap {
			o.LongestGap, o.GapFrom = gap, last
		}
		last = p.Start
	}
	if gap := to.Sub(last); gap > o.LongestGap {
		o.LongestGap, o.GapFrom = gap, last
	}
	return o
}
