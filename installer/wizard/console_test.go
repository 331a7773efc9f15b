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
// terminal's cursor-position queries (ESC[6n) the way a terminal does.
type console struct {
	t        *testing.T
	ptm, pts *os.File
	mu       sync.Mutex
	raw      strings.Builder
	text     strings.Builder // raw output without escape sequences
	pos      int             // text consumed by expect
	cprAt    []int           // where in text each cursor-position query came
	replied  time.Time       // when the last query was answered
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
			// Reply to each query before making it visible to ready(), so that
			// ready() never sees a query whose reply is still to come.
			parts := strings.Split(chunk, "\x1b[6n")
			for q := len(parts) - 1; q > 0; q-- {
				_, _ = c.ptm.Write([]byte("\x1b[20;1R"))
			}
			c.mu.Lock()
			if len(parts) > 1 {
				c.replied = time.Now()
			}
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

// ready waits until a prompt reads keys: the terminal is in raw mode,
// the prompt asked its cursor-position queries (a line prompt asks two:
// terminal size and cursor) and read the replies. Keys typed while survey
// reads a reply can be swallowed with it, so they wait.
func (c *console) ready(queries int) {
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
		c.mu.Lock()
		asked := 0
		for _, at := range c.cprAt {
			if at >= c.pos {
				asked++
			}
		}
		// A write to the terminal's master reaches the reader's queue a moment
		// later (the kernel moves it): let the last reply settle first.
		settled := time.Since(c.replied) > 100*time.Millisecond
		c.mu.Unlock()
		if tio.Lflag&unix.ICANON == 0 && waiting == 0 && asked >= queries && settled {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no prompt reads keys (raw %v, %d bytes queued, %d queries); the screen ends with:\n%s",
				tio.Lflag&unix.ICANON == 0, waiting, asked, tail(c.screen(), 2500))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *console) send(keys string) {
	c.t.Helper()
	if _, err := c.ptm.Write([]byte(keys)); err != nil {
		c.t.Fatalf("typing: %v", err)
	}
}

// answer waits for a line prompt (input, password, confirm) and types a line.
func (c *console) answer(prompt, line string) {
	c.t.Helper()
	c.expect(prompt)
	c.ready(2)
	c.send(line + "\r")
}

// choose waits for a select prompt and types keys, then Enter.
func (c *console) choose(prompt, keys string) {
	c.t.Helper()
	c.expect(prompt)
	c.ready(0)
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
