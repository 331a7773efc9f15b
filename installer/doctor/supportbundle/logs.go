package supportbundle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// logTailLines asks the kubelet for at most this many lines of a log (it
// seeks from the end), so a huge log is not streamed whole to keep its end.
const logTailLines = 50000

// logWorkers fetch logs at once: the kubelet and API server answer many
// small streams faster in parallel, without crowding a small server.
const logWorkers = 4

type logJob struct {
	ns, pod, container string
	previous           bool
}

// collectLogs fetches every container's log (init containers too), and
// its previous instance's when it restarted.
func (k *kubeCollector) collectLogs(ctx context.Context, pods []corev1.Pod) {
	var jobs []logJob
	for _, p := range pods {
		restarted := map[string]bool{}
		for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			restarted[s.Name] = s.RestartCount > 0 || s.LastTerminationState.Terminated != nil
		}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			jobs = append(jobs, logJob{p.Namespace, p.Name, c.Name, false})
			if restarted[c.Name] {
				jobs = append(jobs, logJob{p.Namespace, p.Name, c.Name, true})
			}
		}
	}
	ch := make(chan logJob)
	var wg sync.WaitGroup
	for range logWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				k.collectLog(ctx, j)
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
}

func (k *kubeCollector) collectLog(ctx context.Context, j logJob) {
	path := fmt.Sprintf("logs/%s/%s/%s.log", j.ns, j.pod, j.container)
	what := fmt.Sprintf("the log of container %s of pod %s/%s", j.container, j.ns, j.pod)
	if j.previous {
		path = fmt.Sprintf("logs/%s/%s/%s.previous.log", j.ns, j.pod, j.container)
		what = "the previous instance's " + what[4:]
	}
	tail := int64(logTailLines)
	stream, err := k.c.Kube.CoreV1().Pods(j.ns).GetLogs(j.pod, &corev1.PodLogOptions{Container: j.container, Previous: j.previous, TailLines: &tail}).Stream(ctx)
	if err != nil {
		k.b.fail(what, err)
		return
	}
	defer stream.Close()
	// Redact the whole stream first, then keep its end: a cut never
	// splits a value before the redactor has seen it whole.
	keep := &tailKeeper{limit: int(k.limit)}
	w := k.b.r.Writer(keep)
	lines := &lineCounter{w: w}
	_, copyErr := io.Copy(lines, stream)
	if err := w.Close(); err != nil && copyErr == nil {
		copyErr = err
	}
	data, dropped := keep.bytes()
	var cut string
	switch {
	case dropped:
		cut = fmt.Sprintf("only the last %d bytes kept", k.limit)
	case lines.n >= logTailLines:
		cut = fmt.Sprintf("only the last %d lines asked for", logTailLines)
	}
	if cut != "" {
		data = append([]byte("[support bundle: log cut, "+cut+"]\n"), data...)
	}
	if copyErr != nil {
		data = append(data, k.b.r.Bytes([]byte("\n[support bundle: reading the log stopped: "+copyErr.Error()+"]\n"))...)
		k.b.fail(what, fmt.Errorf("reading the log stopped (what came before is in %s): %w", path, copyErr))
	}
	k.b.addRedacted(path, what, data, cut)
}

// tailKeeper keeps the last limit bytes written, from a line start.
type tailKeeper struct {
	limit   int
	buf     []byte
	dropped bool
}

func (t *tailKeeper) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.limit {
		t.drop()
	}
	return len(p), nil
}

func (t *tailKeeper) drop() {
	if len(t.buf) <= t.limit {
		return
	}
	t.dropped = true
	t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.limit:]...)
}

func (t *tailKeeper) bytes() ([]byte, bool) {
	t.drop()
	b := t.buf
	if t.dropped {
		// Start at a whole line (and never inside a marker).
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b, t.dropped
}

type lineCounter struct {
	w io.Writer
	n int
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += bytes.Count(p, []byte("\n"))
	return l.w.Write(p)
}
