// Package crilog reads container logs in the CRI logging format that
// containerd writes for every container: one line per record,
//
//	<RFC 3339 nano timestamp> <stdout|stderr> <P|F> <content>
//
// where P marks a partial record that continues on the next line and F a
// full one (or its last part).
//
// A Writer renders a log as a user reads it (since, tail, timestamps) in
// bounded memory: files are read in chunks, and a tail backwards from the
// end of the log until it holds the records asked for. A log is its
// current file and the files rotated from it (Rotate, as the kubelet
// rotates container logs): Open opens them all, to be read as one.
package crilog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Line is one log record, or the start of one whose end the log does not
// hold (yet): the last thing a container wrote without a newline, which
// containerd tags P when the stream closes.
type Line struct {
	Time    time.Time
	Stream  string // "stdout" or "stderr"
	Content []byte // without the trailing newline
	// Partial marks a record begun but not ended: it is written without
	// a newline, as the kubelet writes a P line, and what follows it on
	// its stream continues it.
	Partial bool
}

// ErrMalformed reports a line that is not in the CRI format.
var ErrMalformed = errors.New("malformed CRI log line")

// maxRecord bounds a record assembled from partial lines.
const maxRecord = 1 << 20

// Parse splits one CRI log line into its parts.
func Parse(line []byte) (t time.Time, stream string, partial bool, content []byte, err error) {
	parts := bytes.SplitN(line, []byte{' '}, 4)
	if len(parts) < 3 {
		return t, "", false, nil, fmt.Errorf("%w: %q", ErrMalformed, truncate(line))
	}
	t, err = time.Parse(time.RFC3339Nano, string(parts[0]))
	if err != nil {
		return t, "", false, nil, fmt.Errorf("%w: timestamp %q", ErrMalformed, parts[0])
	}
	stream = string(parts[1])
	if stream != "stdout" && stream != "stderr" {
		return t, "", false, nil, fmt.Errorf("%w: stream %q", ErrMalformed, stream)
	}
	switch string(parts[2]) {
	case "P":
		partial = true
	case "F":
	default:
		return t, "", false, nil, fmt.Errorf("%w: tag %q", ErrMalformed, parts[2])
	}
	if len(parts) == 4 {
		content = parts[3]
	}
	return t, stream, partial, content, nil
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// ReadAll returns the complete records of a log, joining partial lines per
// stream. Malformed lines are skipped (a log being rotated may end in half
// a line).
func ReadAll(r io.Reader) ([]Line, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxRecord+256)
	var d Decoder
	var out []Line
	for sc.Scan() {
		if l, ok := d.decodeLine(sc.Bytes()); ok {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read log: %w", err)
	}
	return append(out, d.Flush()...), nil
}

// Decoder turns a log read piece by piece (as it grows) into records,
// keeping partial records between pieces. Its zero value is ready.
type Decoder struct {
	pending map[string]*Line
	rest    []byte
}

// Decode returns the records that data completes; a trailing incomplete
// line waits for the next call. data is not kept.
func (d *Decoder) Decode(data []byte) []Line {
	var out []Line
	if len(d.rest) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			d.keep(data)
			return nil
		}
		d.rest = append(d.rest, data[:i]...)
		out = d.appendLine(out, d.rest)
		d.rest = d.rest[:0]
		data = data[i+1:]
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		out = d.appendLine(out, data[:i])
		data = data[i+1:]
	}
	d.keep(data)
	return out
}

// keep adds the start of an unfinished line to what waits for its end.
func (d *Decoder) keep(data []byte) {
	d.rest = append(d.rest, data...)
	if len(d.rest) > maxRecord+256 { // a line too long to be a record
		d.rest = d.rest[:0]
	}
}

// Flush returns the records begun and not ended, oldest first, marked
// Partial, and forgets them: what comes later on their streams is written
// as a record of its own that continues them.
func (d *Decoder) Flush() []Line {
	if len(d.pending) == 0 {
		return nil
	}
	out := make([]Line, 0, len(d.pending))
	for _, p := range d.pending {
		l := *p
		l.Partial = true
		out = append(out, l)
	}
	clear(d.pending)
	slices.SortFunc(out, func(a, b Line) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Stream, b.Stream)
	})
	return out
}

func (d *Decoder) appendLine(out []Line, line []byte) []Line {
	if l, ok := d.decodeLine(line); ok {
		out = append(out, l)
	}
	return out
}

// decodeLine handles one line of the file; it returns a record when the
// line completes one.
func (d *Decoder) decodeLine(line []byte) (Line, bool) {
	t, stream, partial, content, err := Parse(line)
	if err != nil {
		return Line{}, false
	}
	if d.pending == nil {
		d.pending = map[string]*Line{}
	}
	p := d.pending[stream]
	if p == nil {
		p = &Line{Time: t, Stream: stream}
		d.pending[stream] = p
	}
	if len(p.Content)+len(content) <= maxRecord {
		p.Content = append(p.Content, content...)
	}
	if partial {
		return Line{}, false
	}
	delete(d.pending, stream)
	return *p, true
}
