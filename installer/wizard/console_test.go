package wizard_test

import (
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// console is a pseudo-terminal the wizard runs on, with a small expect
// loop: the test waits for text on the screen, then types. It answers the
// terminal's cursor-position queries (ESC[6n) as a terminal does, and uses
// them to know when a line prompt reads keys.
type console struct {
	t        *testing.T
	ptm, pts *os.File
	mu       sync.Mutex
	raw      strings.Builder
	text     strings.Builder // raw output without escape sequences
	pos      int             // text consumed by expect
	cprAt    []int           // where in text each cursor-position query came
	replied  int             // how many of them were answered
	grew     chan struct{}
	done     chan struct{}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r`)

func newConsole(t *testing.T) *console {
	t.Helper()
	ptm, pts, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	if err := pty.Setsize(ptm, &pty.Winsize{Rows: 60, Cols: 250}); err != nil {
		t.Fatalf("sizing the pseudo-terminal: %v", err)
	}
	c := &console{t: t, ptm: ptm, pts: pts, grew: make(chan struct{}, 1), done: make(chan struct{})}
	go c.read()
	// Closing does not interrupt a blocked read on a terminal: the reader
	// ends when the test binary does.
	t.Cleanup(func() {
		pts.Close()
		ptm.Close()
	})
	return c
}

func (c *console) read() {
	defer close(c.done)
	buf := make([]byte, 4096)
	var pending string
	for {
		n, err := c.ptm.Read(buf)
		if n > 0 {
			chunk := pending + string(buf[:n])
			pending = ""
			// Keep a trailing partial escape sequence for the next read.
			if i := strings.LastIndexByte(chunk, 0x1b); i >= 0 && !ansi.MatchString(chunk[i:]) && len(chunk)-i < 16 {
				chunk, pending = chunk[:i], chunk[i:]
			}
			parts := strings.Split(chunk, "\x1b[6n")
			c.mu.Lock()
			c.raw.WriteString(chunk)
			for i, part := range parts {
				c.text.WriteString(ansi.ReplaceAllString(part, ""))
				if i < len(parts)-1 {
					c.cprAt = append(c.cprAt, c.text.Len())
				}
			}
			c.mu.Unlock()
			select {
			case c.grew <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// expect waits for s on the screen after what was already matched, then
// for the terminal to be in raw mode (a prompt is reading keys).
func (c *console) expect(s string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c.mu.Lock()
		all := c.text.String()
		i := strings.Index(all[c.pos:], s)
		if i >= 0 {
			c.pos += i + len(s)
		}
		c.mu.Unlock()
		if i >= 0 {
			return
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			n := len(c.cprAt)
			c.mu.Unlock()
			c.t.Fatalf("waited 60s for %q (%d cursor queries in all); the screen ends with:\n%s\nraw: %q", s, n, tail(all, 2500), tail(c.rawOutput(), 600))
		}
		select {
		case <-c.grew:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ready waits until a select prompt reads keys: the terminal is in raw
// mode (survey sets it after drawing the prompt) and no key is queued.
func (c *console) ready() {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	fd := int(c.pts.Fd())
	for {
		tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			c.t.Fatalf("reading the terminal mode: %v", err)
		}
		waiting, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil {
			c.t.Fatalf("reading the terminal's input queue: %v", err)
		}
		if tio.Lflag&unix.ICANON == 0 && waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no prompt reads keys; the screen ends with:\n%s", tail(c.screen(), 2500))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reply answers the next cursor-position query (ESC[6n) asked after the
// matched text, sending keys just before the answer. survey reads the
// answer with a throwaway buffered reader: keys that came after it in the
// same read would be lost, keys before it are kept for the prompt. So
// keys only ever travel in front of an answer.
//
// survey reads that answer up to the first 'R' (the answer's last byte),
// so keys travelling with it must hold no 'R'.
func (c *console) reply(keys string) {
	c.t.Helper()
	if strings.ContainsRune(keys, 'R') {
		c.t.Fatalf("typed keys %q hold an R, which survey would take for the end of the cursor answer: use other test input", keys)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.mu.Lock()
		ready := c.replied < len(c.cprAt) && c.cprAt[c.replied] >= c.pos
		stale := c.replied < len(c.cprAt) && c.cprAt[c.replied] < c.pos
		if ready || stale {
			c.replied++
		}
		c.mu.Unlock()
		if stale {
			c.t.Fatalf("a cursor-position query before the expected prompt was left unanswered; the screen ends with:\n%s", tail(c.screen(), 2500))
		}
		if ready {
			c.send(keys + "\x1b[20;1R")
			return
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			n, r, pos := len(c.cprAt), c.replied, c.pos
			last := c.cprAt[max(0, n-3):]
			c.mu.Unlock()
			c.t.Fatalf("waited 30s for a prompt to read a line (%d queries, %d answered, last at %v, matched up to %d); the screen ends with:\n%s\nraw: %q", n, r, last, pos, tail(c.screen(), 1500), tail(c.rawOutput(), 400))
		}
		select {
		case <-c.grew:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *console) send(keys string) {
	c.t.Helper()
	if _, err := c.ptm.Write([]byte(keys)); err != nil {
		c.t.Fatalf("typing: %v", err)
	}
}

// answer waits for a line prompt (input, password, confirm) and types a
// line. Such a prompt asks the terminal's size, then the cursor's place,
// before reading: the line goes in front of the first answer.
func (c *console) answer(prompt, line string) {
	c.t.Helper()
	c.expect(prompt)
	c.reply(line + "\r")
	c.reply("")
}

// choose waits for a select prompt and types keys, then Enter.
func (c *console) choose(prompt, keys string) {
	c.t.Helper()
	c.expect(prompt)
	c.ready()
	c.send(keys + "\r")
}

func (c *console) screen() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text.String()
}

func (c *console) rawOutput() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

const keyDown = "\x1b[B"
