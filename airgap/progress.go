package airgap

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// meterInterval spaces byte-progress reports: often enough for a live bar,
// rare enough that --output json stays a readable stream of events.
const meterInterval = 250 * time.Millisecond

// meter counts bytes from any goroutine and reports them to the status on
// a ticker, so hot loops only do an atomic add.
type meter struct {
	st    *status.Status
	done  atomic.Int64
	total atomic.Int64
	stopc chan struct{}
	wg    sync.WaitGroup
}

func startMeter(st *status.Status, total int64) *meter {
	m := &meter{st: st, stopc: make(chan struct{})}
	m.total.Store(total)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(meterInterval)
		defer t.Stop()
		last := int64(-1)
		for {
			select {
			case <-m.stopc:
				return
			case <-t.C:
				if d := m.done.Load(); d != last {
					last = d
					m.st.Bytes(d, m.total.Load())
				}
			}
		}
	}()
	return m
}

func (m *meter) add(n int)             { m.done.Add(int64(n)) }
func (m *meter) addTotal(n int64)      { m.total.Add(n) }
func (m *meter) bytes() (int64, int64) { return m.done.Load(), m.total.Load() }

// stop ends the ticker and reports the final count once.
func (m *meter) stop() {
	close(m.stopc)
	m.wg.Wait()
	m.st.Bytes(m.done.Load(), m.total.Load())
}
