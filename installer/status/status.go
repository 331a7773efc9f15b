package status

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Mode selects how the status is shown.
type Mode int

const (
	// Plain prints one line per event; for logs and pipes.
	Plain Mode = iota
	// Terminal animates the running step on one line.
	Terminal
	// JSON prints one JSON object per event; for machines.
	JSON
)

// Status reports progress. It is safe for concurrent use. The zero value
// is not usable; build one with New.
type Status struct {
	mu      sync.Mutex
	out     io.Writer
	mode    Mode
	now     func() time.Time
	step    string
	started time.Time
	stop    chan struct{}
	done    chan struct{}
	frame   int
	// progress of the running step, for Terminal mode
	progress string
}

// New returns a Status writing to out in the given mode.
func New(out io.Writer, mode Mode) *Status {
	return &Status{out: out, mode: mode, now: time.Now}
}

// ForWriter picks JSON when asked, Terminal when out is a terminal, and
// Plain otherwise. Commands pass their standard error: standard output
// carries only the command's result, so `-o json | jq` reads one document.
func ForWriter(out io.Writer, jsonOutput bool) *Status {
	if jsonOutput {
		return New(out, JSON)
	}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return New(out, Terminal)
	}
	return New(out, Plain)
}

// Discard returns a Status that shows nothing; for tests and library use.
func Discard() *Status { return New(io.Discard, Plain) }

// Mode reports how the status is shown.
func (s *Status) Mode() Mode { return s.mode }

type event struct {
	Time     string  `json:"time"`
	Event    string  `json:"event"`
	Step     string  `json:"step,omitempty"`
	Message  string  `json:"message,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	Done     int64   `json:"bytesDone,omitempty"`
	Total    int64   `json:"bytesTotal,omitempty"`
	PerSec   float64 `json:"bytesPerSecond,omitempty"`
	Progress string  `json:"progress,omitempty"`
}

func (s *Status) emit(e event) {
	e.Time = s.now().UTC().Format(time.RFC3339)
	b, _ := json.Marshal(e)
	s.out.Write(append(b, '\n'))
}

var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Start begins a step. A running step is ended as done first.
func (s *Status) Start(step string) {
	s.mu.Lock()
	running := s.step != ""
	s.mu.Unlock()
	if running {
		s.End(nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step, s.started, s.progress = step, s.now(), ""
	switch s.mode {
	case JSON:
		s.emit(event{Event: "start", Step: step})
	case Plain:
		fmt.Fprintf(s.out, "► %s\n", step)
	case Terminal:
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.spin(s.stop, s.done)
	}
}

func (s *Status) spin(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		fmt.Fprintf(s.out, "\r\033[K%s %s %s", frames[s.frame%len(frames)], s.step, s.progress)
		s.frame++
		s.mu.Unlock()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func (s *Status) stopSpinner() {
	if s.stop != nil {
		close(s.stop)
		s.mu.Unlock()
		<-s.done
		s.mu.Lock()
		s.stop, s.done = nil, nil
	}
}

// End finishes the running step: done when err is nil, failed otherwise.
// It returns err so callers can write `return st.End(err)`.
func (s *Status) End(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.step == "" {
		return err
	}
	s.stopSpinner()
	secs := s.now().Sub(s.started).Seconds()
	switch s.mode {
	case JSON:
		e := event{Event: "done", Step: s.step, Seconds: secs}
		if err != nil {
			e.Event, e.Message = "failed", err.Error()
		}
		s.emit(e)
	default:
		if s.mode == Terminal {
			fmt.Fprint(s.out, "\r\033[K")
		}
		if err != nil {
			fmt.Fprintf(s.out, "✗ %s\n", s.step)
		} else {
			fmt.Fprintf(s.out, "✔ %s (%.1fs)\n", s.step, secs)
		}
	}
	s.step = ""
	return err
}

// Skip records a step that had nothing to do, with why.
func (s *Status) Skip(step, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == JSON {
		s.emit(event{Event: "skip", Step: step, Message: why})
		return
	}
	s.clearLine()
	fmt.Fprintf(s.out, "◎ %s: %s\n", step, why)
}

func (s *Status) clearLine() {
	if s.mode == Terminal && s.step != "" {
		fmt.Fprint(s.out, "\r\033[K")
	}
}

func (s *Status) line(sym, kind, format string, args []any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if s.mode == JSON {
		s.emit(event{Event: kind, Step: s.step, Message: msg})
		return
	}
	s.clearLine()
	fmt.Fprintf(s.out, "%s %s\n", sym, msg)
}

// Info reports a fact worth showing.
func (s *Status) Info(format string, args ...any) { s.line("•", "info", format, args) }

// Warn reports something the operator should look at.
func (s *Status) Warn(format string, args ...any) { s.line("⚠", "warn", format, args) }

// Bytes reports byte progress of the running step. Terminal mode shows it
// on the spinner line; JSON mode emits it at most once per call; Plain
// mode stays quiet (logs do not want a line per megabyte).
func (s *Status) Bytes(done, total int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := s.now().Sub(s.started).Seconds()
	var rate float64
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	switch s.mode {
	case JSON:
		s.emit(event{Event: "progress", Step: s.step, Done: done, Total: total, PerSec: rate})
	case Terminal:
		s.progress = ProgressBar(done, total, rate)
	}
}

// ProgressBar renders "[#####.....] 1.2 GiB / 2.0 GiB  310 MiB/s".
func ProgressBar(done, total int64, perSec float64) string {
	const width = 20
	filled := 0
	if total > 0 {
		filled = int(float64(width) * float64(done) / float64(total))
		if filled > width {
			filled = width
		}
	}
	bar := make([]byte, width)
	for i := range bar {
		if i < filled {
			bar[i] = '#'
		} else {
			bar[i] = '.'
		}
	}
	return fmt.Sprintf("[%s] %s / %s  %s/s", bar, HumanBytes(done), HumanBytes(total), HumanBytes(int64(perSec)))
}

// HumanBytes formats a byte count with binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
