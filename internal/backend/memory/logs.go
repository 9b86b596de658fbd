package memory

import (
	"fmt"
	"io"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
)

// containerRun is one run of a container: the lines it logged, and a
// channel closed when it ends, for readers that follow the log. The
// backend's lock guards lines.
type containerRun struct {
	lines []logLine
	ended chan struct{}
}

type logLine struct {
	time time.Time
	text string
}

// beginRunLocked starts a new run of a container and logs its first lines,
// stamped with the start time, so that every run of a pod logs the same
// text at predictable times.
func (wl *workload) beginRunLocked(c *backend.ContainerState, now time.Time) {
	if wl.runs == nil {
		wl.runs = map[string][]*containerRun{}
	}
	n := len(wl.runs[c.Name]) + 1
	run := &containerRun{ended: make(chan struct{})}
	for _, text := range []string{
		fmt.Sprintf("starting container %s (image %s)", c.Name, c.Image),
		fmt.Sprintf("run %d of pod %s/%s", n, wl.pod.Namespace, wl.pod.Name),
		"ready",
	} {
		run.lines = append(run.lines, logLine{time: now, text: text})
	}
	wl.runs[c.Name] = append(wl.runs[c.Name], run)
}

// endRunLocked logs the exit of the container's current run and wakes its
// followers; a run that has already ended is left alone.
func (wl *workload) endRunLocked(name string, code int32, now time.Time) {
	runs := wl.runs[name]
	if len(runs) == 0 {
		return
	}
	run := runs[len(runs)-1]
	select {
	case <-run.ended:
		return
	default:
	}
	run.lines = append(run.lines, logLine{time: now, text: fmt.Sprintf("exited with code %d", code)})
	close(run.ended)
}

// logFilter writes log lines as backend.LogOptions ask: since a time, with
// timestamps, and up to a byte limit across every write.
type logFilter struct {
	w    io.Writer
	opts backend.LogOptions
	// left is the number of bytes still allowed; negative for no limit.
	left int64
}

func newLogFilter(w io.Writer, opts backend.LogOptions) *logFilter {
	f := &logFilter{w: w, opts: opts, left: -1}
	if opts.LimitBytes != nil {
		f.left = *opts.LimitBytes
	}
	return f
}

// selectLines drops lines before SinceTime, then keeps the last TailLines
// when tail is set.
func (f *logFilter) selectLines(lines []logLine, tail bool) []logLine {
	var out []logLine
	for _, l := range lines {
		if f.opts.SinceTime.IsZero() || !l.time.Before(f.opts.SinceTime) {
			out = append(out, l)
		}
	}
	if tail && f.opts.TailLines != nil && int64(len(out)) > *f.opts.TailLines {
		out = out[int64(len(out))-*f.opts.TailLines:]
	}
	return out
}

// write writes lines one by one; it reports false once the byte limit is
// reached, when nothing more should be written.
func (f *logFilter) write(lines []logLine) (bool, error) {
	for _, l := range lines {
		if f.left == 0 {
			return false, nil
		}
		text := l.text + "\n"
		if f.opts.Timestamps {
			text = l.time.UTC().Format(time.RFC3339Nano) + " " + text
		}
		if f.left >= 0 && int64(len(text)) > f.left {
			text = text[:f.left]
		}
		if _, err := io.WriteString(f.w, text); err != nil {
			return false, fmt.Errorf("write log: %w", err)
		}
		if f.left >= 0 {
			f.left -= int64(len(text))
		}
	}
	return f.left != 0, nil
}
