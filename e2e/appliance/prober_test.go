//go:build e2e

package appliance

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The prober's numbers against a server that answers v1, then refuses for a while (503), then
// answers v2: the failures are counted, the longest gap spans the refusals, the versions come in
// order with repeats folded. (StartProber adds only the entry into the node's namespace.)
func TestProbeCountsFailuresAndTheLongestGap(t *testing.T) {
	var phase atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch phase.Load() {
		case 0:
			fmt.Fprint(w, "stand-in\nSTANDIN_VERSION=v1\n")
		case 1:
			http.Error(w, "rolling", http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, "stand-in\nSTANDIN_VERSION=v2\n")
		}
	}))
	defer srv.Close()
	stop := make(chan struct{})
	done := make(chan Availability, 1)
	go func() { done <- probe(strings.TrimPrefix(srv.URL, "http://"), 20*time.Millisecond, stop) }()
	time.Sleep(200 * time.Millisecond)
	phase.Store(1)
	time.Sleep(300 * time.Millisecond)
	phase.Store(2)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	a := <-done
	t.Log(a)
	if a.Failures < 5 || a.Answers < 10 {
		t.Errorf("%d failures, %d answers: want the refusals counted and answers around them", a.Failures, a.Answers)
	}
	if a.LongestGap < 300*time.Millisecond || a.LongestGap > time.Second {
		t.Errorf("longest gap %s, want about the 300 ms of refusals", a.LongestGap)
	}
	if strings.Join(a.Versions, " ") != "v1 v2" {
		t.Errorf("versions %v, want v1 v2", a.Versions)
	}
}

func TestInOrderAllowsNeighboursToAlternate(t *testing.T) {
	for _, c := range []struct {
		seen []string
		ok   bool
	}{
		{[]string{"v1", "v2", "v3"}, true},
		{[]string{"v1", "v2", "v1", "v2", "v3", "v2", "v3"}, true}, // rollouts overlap
		{[]string{"v1", "v3"}, false},                              // the stop never answered
		{[]string{"v1", "v2", "v3", "v1", "v3"}, false},            // back two versions
		{[]string{"v1", "v2"}, false},                              // never reached v3
		{[]string{"v1", "v2", "v4", "v3"}, false},                  // a version not on the path
		{nil, false},
	} {
		if err := InOrder(c.seen, "v1", "v2", "v3"); (err == nil) != c.ok {
			t.Errorf("InOrder(%v): %v, want ok=%v", c.seen, err, c.ok)
		}
	}
}
