package crilog

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

const sample = `2026-11-28T10:00:00.000000001Z stdout F hello world
2026-11-28T10:00:01.5Z stderr P part one, 
2026-11-28T10:00:01.6Z stdout F interleaved
2026-11-28T10:00:01.7Z stderr F part two
not a log line
2026-11-28T10:00:02Z stdout F 
2026-11-28T10:00:03Z stdout F last
`

func TestReadAllJoinsPartialRecords(t *testing.T) {
	lines, err := ReadAll(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Stream+":"+string(l.Content))
	}
	want := []string{"stdout:hello world", "stdout:interleaved", "stderr:part one, part two", "stdout:", "stdout:last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("records\n got %q\nwant %q", got, want)
	}
	if lines[2].Time.Nanosecond() != 500000000 {
		t.Errorf("a joined record keeps its first part's time, got %v", lines[2].Time)
	}
}

func TestWriteTailAndTimestamps(t *testing.T) {
	log := []Source{{R: strings.NewReader(sample), Size: int64(len(sample))}}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"tail 2", Options{Tail: 2}, "\nlast\n"},
		{"tail past the start", Options{Tail: 9}, "hello world\ninterleaved\npart one, part two\n\nlast\n"},
		{"since", Options{Since: time.Date(2026, 11, 28, 10, 0, 1, 600000000, time.UTC)}, "interleaved\n\nlast\n"},
		{"timestamps", Options{Tail: 1, Timestamps: true}, "2026-11-28T10:00:03Z last\n"},
	} {
		var buf bytes.Buffer
		if err := NewWriter(&buf, tc.o).WriteLog(log); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, buf.String(), tc.want)
		}
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	for _, line := range []string{"", "2026-11-28T10:00:00Z", "yesterday stdout F x", "2026-11-28T10:00:00Z stdin F x",
		"2026-11-28T10:00:00Z stdout X x"} {
		if _, _, _, _, err := Parse([]byte(line)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", line, err)
		}
	}
}

// Fed in arbitrary pieces, as a growing file is read, the decoder finds
// the same records as ReadAll.
func TestDecoderAcrossPieces(t *testing.T) {
	want, err := ReadAll(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 7, 50, len(sample)} {
		var d Decoder
		var got []Line
		for i := 0; i < len(sample); i += size {
			got = append(got, d.Decode([]byte(sample[i:min(i+size, len(sample))]))...)
		}
		if len(got) != len(want) {
			t.Fatalf("pieces of %d: %d records, want %d", size, len(got), len(want))
		}
		for i := range want {
			if got[i].Stream != want[i].Stream || !bytes.Equal(got[i].Content, want[i].Content) || !got[i].Time.Equal(want[i].Time) {
				t.Errorf("pieces of %d: record %d = %+v, want %+v", size, i, got[i], want[i])
			}
		}
	}
	var d Decoder
	if got := d.Decode([]byte("2026-11-28T10:00:00Z stdout F no newline yet")); len(got) != 0 {
		t.Errorf("an unfinished line gave records %+v", got)
	}
	if got := d.Decode([]byte("\n")); len(got) != 1 || string(got[0].Content) != "no newline yet" {
		t.Errorf("the finished line gave %+v", got)
	}
}

// A container's last output without a newline is a P line that nothing
// ends (containerd tags it so when the stream closes): it is part of the
// log, written without a newline as the kubelet writes it, and a later
// line of its stream continues it.
func TestUnendedRecordIsWrittenAsItIs(t *testing.T) {
	log := "2026-11-28T10:00:00Z stdout F first\n" +
		"2026-11-28T10:00:01Z stdout P no-newline-at-end\n"
	lines, err := ReadAll(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || string(lines[1].Content) != "no-newline-at-end" || !lines[1].Partial || lines[0].Partial {
		t.Fatalf("ReadAll: %+v", lines)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"whole", Options{}, "first\nno-newline-at-end"},
		{"tail 1", Options{Tail: 1}, "no-newline-at-end"},
		{"timestamps", Options{Tail: 1, Timestamps: true}, "2026-11-28T10:00:01Z no-newline-at-end"},
		{"since", Options{Since: time.Date(2026, 11, 28, 10, 0, 1, 0, time.UTC)}, "no-newline-at-end"},
	} {
		var buf bytes.Buffer
		if err := NewWriter(&buf, tc.o).WriteLog([]Source{{R: strings.NewReader(log), Size: int64(len(log))}}); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, buf.String(), tc.want)
		}
	}

	// Followed: what is there is written at once; the line that ends the
	// record later continues it.
	var buf bytes.Buffer
	w := NewWriter(&buf, Options{})
	if err := w.WriteLog([]Source{{R: strings.NewReader(log), Size: int64(len(log))}}); err != nil {
		t.Fatal(err)
	}
	grown := log + "2026-11-28T10:00:02Z stdout P , more\n" + "2026-11-28T10:00:03Z stdout F  and the end\n"
	off, err := w.Follow(strings.NewReader(grown), int64(len(log)))
	if err != nil {
		t.Fatal(err)
	}
	if off != int64(len(grown)) || buf.String() != "first\nno-newline-at-end, more and the end\n" {
		t.Errorf("followed to %d: %q", off, buf.String())
	}
}
