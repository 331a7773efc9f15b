package config

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"strconv"
	"strings"
)

// Image types a branding file may be, told apart by content.
const (
	PNG = "png"
	SVG = "svg"
	ICO = "ico"
)

// Image is one checked branding file.
type Image struct {
	// Type is png, svg or ico.
	Type string
	Data []byte
	// Width and Height are its size in pixels (a PNG's, an ICO's largest
	// entry's, an SVG's viewBox or width and height); 0 when unknown.
	Width, Height int
}

// MediaType is the Content-Type the file is served with.
func (i *Image) MediaType() string {
	switch i.Type {
	case PNG:
		return "image/png"
	case SVG:
		return "image/svg+xml"
	}
	return "image/x-icon"
}

// readImage reads and checks one branding file; nil when path is empty or
// the file is refused (the problem is added).
func readImage(field, path string, max int, allowed []string, add func(path, problem, fix string)) *Image {
	if path == "" {
		return nil
	}
	var upper []string
	for _, k := range allowed {
		upper = append(upper, strings.ToUpper(k))
	}
	kinds := strings.Join(upper, " or ")
	data, err := readLimited(path, max)
	var tooBig *fileTooLarge
	switch {
	case errors.As(err, &tooBig):
		add(field, fmt.Sprintf("%s is %s, more than %s", path, tooBig.size, kib(max)),
			fmt.Sprintf("give a smaller %s (it is served from a ConfigMap, which Kubernetes caps at 1 MiB); an SVG, or a PNG of a few hundred pixels, is enough", kinds))
		return nil
	case err != nil:
		add(field, fmt.Sprintf("cannot be read: %v", err), "check the path, and that the account running docs-appliance can read it")
		return nil
	}
	img, err := sniffImage(data)
	if err == nil && !contains(allowed, img.Type) {
		err = fmt.Errorf("is an %s file", strings.ToUpper(img.Type))
	}
	if err != nil {
		add(field, fmt.Sprintf("%s %v", path, err), "give a "+kinds+" file")
		return nil
	}
	return img
}

type fileTooLarge struct{ size string }

func (e *fileTooLarge) Error() string { return "too large: " + e.size }

// readLimited reads a file of at most max bytes, refusing a larger one
// unread (and one that grew past max after the stat).
func readLimited(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if info.Size() > int64(max) {
		return nil, &fileTooLarge{size: kib(int(info.Size()))}
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > max {
		return nil, &fileTooLarge{size: "more than " + kib(max)}
	}
	return data, nil
}

func kib(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (n+1023)/1024)
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// sniffImage tells a PNG, an ICO or an SVG from its bytes and checks it.
func sniffImage(data []byte) (*Image, error) {
	switch {
	case bytes.HasPrefix(data, pngMagic):
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("is a damaged PNG: %v", err)
		}
		if err := sideOK(cfg.Width, cfg.Height); err != nil {
			return nil, err
		}
		return &Image{Type: PNG, Data: data, Width: cfg.Width, Height: cfg.Height}, nil
	case bytes.HasPrefix(data, []byte{0, 0, 1, 0}):
		return sniffICO(data)
	}
	return sniffSVG(data)
}

func sideOK(w, h int) error {
	if w < 1 || h < 1 || w > maxImageSide || h > maxImageSide {
		return fmt.Errorf("is %dx%d pixels; want 1 to %d a side", w, h, maxImageSide)
	}
	return nil
}

// sniffICO checks an ICO's directory: at least one image, every entry
// inside the file. Its largest entry gives the size (0 in a side is 256).
func sniffICO(data []byte) (*Image, error) {
	if len(data) < 6 {
		return nil, fmt.Errorf("is a truncated ICO")
	}
	n := int(binary.LittleEndian.Uint16(data[4:6]))
	if n == 0 || len(data) < 6+16*n {
		return nil, fmt.Errorf("is an ICO with a damaged directory (%d images)", n)
	}
	img := &Image{Type: ICO, Data: data}
	for i := 0; i < n; i++ {
		e := data[6+16*i:]
		w, h := int(e[0]), int(e[1])
		if w == 0 {
			w = 256
		}
		if h == 0 {
			h = 256
		}
		size, off := binary.LittleEndian.Uint32(e[8:12]), binary.LittleEndian.Uint32(e[12:16])
		if size == 0 || uint64(off)+uint64(size) > uint64(len(data)) {
			return nil, fmt.Errorf("is an ICO whose image %d lies outside the file", i+1)
		}
		if w*h > img.Width*img.Height {
			img.Width, img.Height = w, h
		}
	}
	return img, nil
}

// sniffSVG checks that data is an SVG document, and one that runs no
// code: Docs serves it from its own origin, where a script in it would
// run with the user's session.
func sniffSVG(data []byte) (*Image, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var root *xml.StartElement
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if root == nil {
				return nil, fmt.Errorf("is not a PNG, ICO or SVG file")
			}
			return nil, fmt.Errorf("is not a well-formed SVG: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == nil {
			if el.Name.Local != "svg" {
				return nil, fmt.Errorf("is an XML document of <%s>, not an SVG image", el.Name.Local)
			}
			e := el.Copy()
			root = &e
		}
		if n := strings.ToLower(el.Name.Local); n == "script" || n == "foreignobject" {
			return nil, fmt.Errorf("is an SVG with a <%s> element: remove it (a logo needs no code or HTML)", el.Name.Local)
		}
		for _, at := range el.Attr {
			name, val := strings.ToLower(at.Name.Local), strings.ToLower(strings.TrimSpace(at.Value))
			if strings.HasPrefix(name, "on") || strings.HasPrefix(val, "javascript:") {
				return nil, fmt.Errorf("is an SVG with script in <%s %s>: remove it", el.Name.Local, at.Name.Local)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("is not a PNG, ICO or SVG file")
	}
	img := &Image{Type: SVG, Data: data}
	img.Width, img.Height = svgSize(root)
	return img, nil
}

// svgSize is the SVG's aspect from its viewBox, else its width and height
// in plain numbers or px; 0, 0 when it gives neither.
func svgSize(root *xml.StartElement) (int, int) {
	attr := map[string]string{}
	for _, a := range root.Attr {
		attr[a.Name.Local] = strings.TrimSpace(a.Value)
	}
	if f := strings.FieldsFunc(attr["viewBox"], func(r rune) bool { return r == ' ' || r == ',' }); len(f) == 4 {
		w, errW := strconv.ParseFloat(f[2], 64)
		h, errH := strconv.ParseFloat(f[3], 64)
		if errW == nil && errH == nil && w > 0 && h > 0 {
			return int(w + 0.5), int(h + 0.5)
		}
	}
	w, errW := strconv.ParseFloat(strings.TrimSuffix(attr["width"], "px"), 64)
	h, errH := strconv.ParseFloat(strings.TrimSuffix(attr["height"], "px"), 64)
	if errW == nil && errH == nil && w > 0 && h > 0 {
		return int(w + 0.5), int(h + 0.5)
	}
	return 0, 0
}
