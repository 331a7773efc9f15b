package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// benchTrain makes a train of 10 charts with 40 templates each (400
// templates, ~800 objects): the size of the real release train.
func benchTrain(b *testing.B) (*bundles.Train, string) {
	b.Helper()
	dir := b.TempDir()
	tr := testTrain(b)
	tr.Charts = nil
	for c := 0; c < 10; c++ {
		name := fmt.Sprintf("bench%02d", c)
		ch := &chart.Chart{
			Metadata: &chart.Metadata{APIVersion: "v2", Name: name, Version: "1.0.0"},
			Values:   map[string]any{"replicas": 2},
		}
		ch.Templates = append(ch.Templates, &chart.File{Name: "templates/_helpers.tpl", Data: []byte(
			`{{- define "l" -}}app: {{ .Chart.Name }}
release: {{ .Release.Name }}{{- end -}}`)})
		for i := 0; i < 40; i++ {
			ch.Templates = append(ch.Templates, &chart.File{
				Name: fmt.Sprintf("templates/t%02d.yaml", i),
				Data: []byte(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-d%02d
  labels: {{- include "l" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: d%02d}}
  template:
    metadata: {labels: {app: d%02d}}
    spec:
      containers:
        - name: c
          image: registry.example.invalid/operator:v1.2.3
          env:
          {{- range $i := until 10 }}
            - {name: VAR_{{ $i }}, value: {{ $.Values.appliance.domain | quote }}}
          {{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-c%02d}
data: {domain: {{ .Values.appliance.domain | quote }}}
`, i, i, i, i)),
			})
		}
		if _, err := chartutil.Save(ch, dir); err != nil {
			b.Fatal(err)
		}
		tr.Charts = append(tr.Charts, bundles.Chart{Name: name, Repository: "https://charts.example.invalid", Version: "1.0.0"})
	}
	return tr, dir
}

// BenchmarkRender measures a whole render of ~400 templates (time, bytes
// and allocations per render; `make bench` reports them).
func BenchmarkRender(b *testing.B) {
	f := newFixture(b, "single")
	tr, dir := benchTrain(b)
	f.opts.Train, f.opts.Charts = tr, bundles.DirStore(dir)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Render(context.Background(), f.opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Files) < 800 {
			b.Fatalf("only %d files", len(res.Files))
		}
	}
}

// BenchmarkRenderAndWrite adds writing the repository, then a re-render
// into the same folder (the "nothing changed" path of every install).
func BenchmarkRenderAndWrite(b *testing.B) {
	f := newFixture(b, "single")
	tr, dir := benchTrain(b)
	f.opts.Train, f.opts.Charts = tr, bundles.DirStore(dir)
	out := filepath.Join(b.TempDir(), "repo")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Render(context.Background(), f.opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Write(out, res, f.id, f.opts.Recipients); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	os.RemoveAll(out)
}

// BenchmarkRenderPeakHeap reports the heap in use right after a render (the
// whole repository in memory) as a custom metric, peak-heap-MiB.
func BenchmarkRenderPeakHeap(b *testing.B) {
	f := newFixture(b, "single")
	tr, dir := benchTrain(b)
	f.opts.Train, f.opts.Charts = tr, bundles.DirStore(dir)
	var peak uint64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		res, err := Render(context.Background(), f.opts)
		if err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak {
			peak = ms.HeapInuse
		}
		runtime.KeepAlive(res)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
