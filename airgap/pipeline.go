package airgap

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// The unpack pipeline overlaps the three costs of a file's bytes: reading
// them out of the decompressed archive, hashing them and writing them. On
// a two-core machine hashing on one core while the other decompresses and
// writes is what makes one pass beat `zstd -dc | tar -x` then `sha256sum`.
// Buffers are a fixed pool, so memory does not grow with the bundle.

// 256 KiB chunks stay in the core's cache between the copy out of the
// decoder and the hash and write that follow; 16 of them keep 4 MiB in
// flight, enough for the hasher and the writer to lag behind the reader.
const (
	chunkSize  = 256 << 10
	chunkCount = 16
)

type chunk struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

// pipeMsg is a chunk of the current file, or its end when c is nil.
type pipeMsg struct {
	c *chunk
	// w starts a file on the writer; nil on the hasher.
	w io.Writer
}

type pipeline struct {
	free     chan *chunk
	hashIn   chan pipeMsg
	hashOut  chan string
	writeIn  chan pipeMsg
	writeOut chan error
	writing  bool
	wg       sync.WaitGroup
}

// newPipeline starts a hasher, and a writer when writing is true. Close it
// with stop.
func newPipeline(writing bool) *pipeline {
	p := &pipeline{
		free:    make(chan *chunk, chunkCount),
		hashIn:  make(chan pipeMsg, chunkCount+1),
		hashOut: make(chan string),
		writing: writing,
	}
	for i := 0; i < chunkCount; i++ {
		p.free <- &chunk{buf: make([]byte, chunkSize)}
	}
	p.wg.Add(1)
	go p.hasher()
	if writing {
		p.writeIn = make(chan pipeMsg, chunkCount+1)
		p.writeOut = make(chan error)
		p.wg.Add(1)
		go p.writer()
	}
	return p
}

func (p *pipeline) release(c *chunk) {
	if c.refs.Add(-1) == 0 {
		p.free <- c
	}
}

func (p *pipeline) hasher() {
	defer p.wg.Done()
	var h hash.Hash = sha256.New()
	for m := range p.hashIn {
		if m.c == nil {
			p.hashOut <- hex.EncodeToString(h.Sum(nil))
			h.Reset()
			continue
		}
		h.Write(m.c.buf[:m.c.n])
		p.release(m.c)
	}
}

func (p *pipeline) writer() {
	defer p.wg.Done()
	var (
		w   io.Writer
		err error
	)
	for m := range p.writeIn {
		switch {
		case m.w != nil:
			w, err = m.w, nil
		case m.c == nil:
			p.writeOut <- err
			w, err = nil, nil
		default:
			// After a write error keep consuming so the reader never blocks;
			// the error is reported at the file's end.
			if err == nil && w != nil {
				_, err = w.Write(m.c.buf[:m.c.n])
			}
			p.release(m.c)
		}
	}
}

// copyFile streams exactly size bytes of r through the hasher (and to w
// when the pipeline writes and w is not nil), calling progress after each
// chunk. It returns the sha256, the first read error and the first write
// error. A read error leaves the pipeline ready for the next file.
func (p *pipeline) copyFile(r io.Reader, size int64, w io.Writer, progress func(int)) (sum string, readErr, writeErr error) {
	write := p.writing && w != nil
	refs := int32(1)
	if write {
		refs = 2
		p.writeIn <- pipeMsg{w: w}
	}
	for remaining := size; remaining > 0; {
		c := <-p.free
		want := int64(len(c.buf))
		if remaining < want {
			want = remaining
		}
		n, err := io.ReadFull(r, c.buf[:want])
		if n > 0 {
			c.n = n
			c.refs.Store(refs)
			p.hashIn <- pipeMsg{c: c}
			if write {
				p.writeIn <- pipeMsg{c: c}
			}
			remaining -= int64(n)
			if progress != nil {
				progress(n)
			}
		} else {
			p.free <- c
		}
		if err != nil {
			readErr = err
			break
		}
	}
	p.hashIn <- pipeMsg{}
	sum = <-p.hashOut
	if write {
		p.writeIn <- pipeMsg{}
		writeErr = <-p.writeOut
	}
	return sum, readErr, writeErr
}

// stop ends the goroutines; the pipeline cannot be used afterwards.
func (p *pipeline) stop() {
	close(p.hashIn)
	if p.writing {
		close(p.writeIn)
	}
	p.wg.Wait()
}
