package crilog

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// generated is a log as containerd could write it, with what a test needs
// to know of it.
type generated struct {
	data []byte
	// ends are the offsets after each newline: where a file may be cut.
	ends []int
	// bounds are times at which no record is half written: since there
	// selects whole records.
	bounds []time.Time
}

// generate writes records on both streams, some split into P parts with
// the other stream's lines between them, some long, a few malformed lines
// and an unfinished line at the end.
func generate(seed uint64, records int) generated {
	rng := rand.New(rand.NewPCG(seed, 1))
	var g generated
	at := t0
	line := func(stream, tag, content string) {
		at = at.Add(time.Millisecond)
		g.data = fmt.Appendf(g.data, "%s %s %s %s\n", at.Format(time.RFC3339Nano), stream, tag, content)
		g.ends = append(g.ends, len(g.data))
	}
	content := func(i int) string {
		if rng.IntN(10) == 0 {
			return strings.Repeat(fmt.Sprintf("long%d-", i), 300)
		}
		return fmt.Sprintf("record %d %s", i, strings.Repeat("x", rng.IntN(40)))
	}
	streams := []string{"stdout", "stderr"}
	for i := 0; i < records; i++ {
		g.bounds = append(g.bounds, at.Add(time.Millisecond))
		s, other := streams[rng.IntN(2)], streams[0]
		if s == other {
			other = streams[1]
		}
		switch rng.IntN(8) {
		case 0:
			g.data = append(g.data, "garbage line\n"...)
			g.ends = append(g.ends, len(g.data))
		case 1, 2:
			for p := rng.IntN(3) + 1; p > 0; p-- {
				line(s, "P", content(i)+"/")
				if rng.IntN(2) == 0 {
					i++
					line(other, "F", content(i))
				}
			}
		}
		line(s, "F", content(i))
	}
	g.data = fmt.Appendf(g.data, "%s stdout F unfinished", at.Add(time.Millisecond).Format(time.RFC3339Nano))
	return g
}

// expected renders what a whole read of data selects: records since o.Since
// (by their first part's time), of them the last o.Tail.
func expected(data []byte, o Options) string {
	var d Decoder
	var out []Line
	for _, l := range d.Decode(data) {
		if o.Since.IsZero() || !l.Time.Before(o.Since) {
			out = append(out, l)
		}
	}
	if o.Tail > 0 && len(out) > o.Tail {
		out = out[len(out)-o.Tail:]
	}
	var b strings.Builder
	for _, l := range out {
		if o.Timestamps {
			b.WriteString(l.Time.UTC().Format(time.RFC3339Nano) + " ")
		}
		b.WriteString(string(l.Content) + "\n")
	}
	return b.String()
}

// split cuts data at the given line ends into sources, the first
// compressed ones gzipped.
func split(t *testing.T, data []byte, cuts []int, compressed int) []Source {
	var srcs []Source
	prev := 0
	for i, c := range append(cuts, len(data)) {
		part := data[prev:c]
		prev = c
		if i < compressed {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			if _, err := zw.Write(part); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			part = z.Bytes()
		}
		srcs = append(srcs, Source{R: bytes.NewReader(part), Size: int64(len(part)), Gzip: i < compressed})
	}
	return srcs
}

// Read backwards in small chunks, across plain and compressed files, a
// tail and since select what a whole read selects.
func TestWriteLogMatchesAWholeRead(t *testing.T) {
	g := generate(7, 400)
	n := len(g.ends)
	layouts := []struct {
		name       string
		cuts       []int
		compressed int
	}{
		{"one file", nil, 0},
		{"rotated files", []int{g.ends[n/5], g.ends[n/2], g.ends[n-3]}, 0},
		{"older ones compressed", []int{g.ends[n/5], g.ends[n/2], g.ends[n-3]}, 2},
		{"an empty current file", []int{g.ends[n/2], len(g.data)}, 0},
	}
	var opts []Options
	for _, tail := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 57, 1000} {
		opts = append(opts, Options{Tail: tail})
		for _, b := range []int{1, len(g.bounds) / 3, len(g.bounds) - 4} {
			opts = append(opts, Options{Tail: tail, Since: g.bounds[b], Timestamps: true})
		}
	}
	for _, l := range layouts {
		for _, chunk := range []int{headSize / 2, 100, 4096, chunkSize} {
			for _, o := range opts {
				srcs := split(t, g.data, l.cuts, l.compressed)
				var buf bytes.Buffer
				w := NewWriter(&buf, o)
				w.buf = make([]byte, chunk)
				if err := w.WriteLog(srcs); err != nil {
					t.Fatal(err)
				}
				if want := expected(g.data, o); buf.String() != want {
					t.Fatalf("%s, chunks of %d, %+v:\n got %q\nwant %q", l.name, chunk, o, tail(buf.String()), tail(want))
				}
			}
		}
	}
}

func tail(s string) string { return s[max(0, len(s)-300):] }

// A tail counts records: a record's parts are read even when the other
// stream wrote between them, and the records passed on the way are not
// written. A record the log does not end counts as the last one, written
// as far as it goes.
func TestTailCountsRecords(t *testing.T) {
	log := "2026-11-28T10:00:00Z stdout F before\n" +
		"2026-11-28T10:00:01Z stdout P one \n" +
		"2026-11-28T10:00:02Z stderr F between\n" +
		"2026-11-28T10:00:03Z stdout P two \n" +
		"2026-11-28T10:00:04Z stdout F three\n" +
		"2026-11-28T10:00:05Z stderr P not finished\n"
	for tail, want := range map[int]string{1: "not finished", 2: "one two three\nnot finished",
		3: "between\none two three\nnot finished", 4: "before\nbetween\none two three\nnot finished"} {
		var buf bytes.Buffer
		if err := NewWriter(&buf, Options{Tail: tail}).WriteLog([]Source{{R: strings.NewReader(log), Size: int64(len(log))}}); err != nil {
			t.Fatal(err)
		}
		if buf.String() != want {
			t.Errorf("tail %d: %q, want %q", tail, buf.String(), want)
		}
	}
}

// synthetic is a large log made up as it is read: line i, all of the same
// length, is record i, written a millisecond after the one before.
type synthetic struct{ lines int64 }

const synthLineSize = int64(len("2026-11-28T10:00:00.000000000Z stdout F record 000000000\n"))

func (s synthetic) size() int64 { return s.lines * synthLineSize }

func (s synthetic) line(i int64) []byte {
	at := t0.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000000000Z07:00")
	return fmt.Appendf(nil, "%s stdout F record %09d\n", at, i)
}

func (s synthetic) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) && off < s.size() {
		i := off / synthLineSize
		c := copy(p[n:], s.line(i)[off-i*synthLineSize:])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// counting counts the bytes read through it.
type counting struct {
	r    io.ReaderAt
	read int64
}

func (c *counting) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

// A tail of a large log reads the records asked for twice (backwards to
// find them, then forwards) and a chunk or two more, not the file.
func TestTailReadsTheEndOnly(t *testing.T) {
	log := synthetic{lines: 1 << 20} // 56 MiB
	last := t0.Add(time.Duration(log.lines-1) * time.Millisecond)
	for _, tc := range []struct {
		name    string
		o       Options
		records int
	}{
		{"tail 1", Options{Tail: 1}, 1},
		{"tail 5000", Options{Tail: 5000}, 5000},
		{"since", Options{Since: last.Add(-99 * time.Millisecond)}, 100},
		{"since and a longer tail", Options{Since: last.Add(-9 * time.Millisecond), Tail: 100}, 10},
	} {
		r := &counting{r: log}
		var buf bytes.Buffer
		if err := NewWriter(&buf, tc.o).WriteLog([]Source{{R: r, Size: log.size()}}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(buf.String(), "\n"); got != tc.records || !strings.HasSuffix(buf.String(), fmt.Sprintf("record %09d\n", log.lines-1)) {
			t.Errorf("%s: %d records ending %q, want %d", tc.name, got, tail(buf.String()), tc.records)
		}
		if limit := 2*chunkSize + 2*int64(tc.records)*synthLineSize; r.read > limit {
			t.Errorf("%s: read %d bytes of %d, want at most %d", tc.name, r.read, log.size(), limit)
		}
	}
}
