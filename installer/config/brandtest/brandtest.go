package brandtest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// PNG is a w×h image of one colour, encoded as PNG.
func PNG(t testing.TB, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ICO wraps one PNG image in an ICO file (a PNG entry, as Windows Vista
// and every browser read it).
func ICO(t testing.TB, side int) []byte {
	t.Helper()
	data := PNG(t, side, side, color.NRGBA{0x20, 0x40, 0x80, 0xff})
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	le([]uint16{0, 1, 1}) // reserved, type icon, one image
	dim := byte(side)
	if side >= 256 {
		dim = 0
	}
	b.Write([]byte{dim, dim, 0, 0})
	le([]uint16{1, 32})
	le([]uint32{uint32(len(data)), 6 + 16})
	b.Write(data)
	return b.Bytes()
}

// SVG is a small logo of the given size.
func SVG(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `)
	b.WriteString(strconv.Itoa(w) + " " + strconv.Itoa(h) + `"><rect width="` + strconv.Itoa(w) + `" height="` + strconv.Itoa(h) + `" fill="#336699"/></svg>` + "\n")
	return b.Bytes()
}

// Write puts data in dir/name and returns the path.
func Write(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
