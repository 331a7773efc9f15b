package cluster

import "sync"

// WarningLog keeps the API server's warnings (Pod Security, deprecated APIs) of the requests
// made since the last Reset; set it as a rest.Config's WarningHandler and send one object at a
// time to know which object each warning is about.
type WarningLog struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeader is client-go's rest.WarningHandler.
func (w *WarningLog) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// Reset forgets the warnings kept so far.
func (w *WarningLog) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = nil
}

// Texts are the warnings kept since the last Reset.
func (w *WarningLog) Texts() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}
