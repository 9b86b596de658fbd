package crilog

import (
	"bytes"
	"errors"
	"strings"
	"testing"
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
	lines, err := ReadAll(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, lines, 2, false); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "\nlast\n" {
		t.Errorf("tail 2: %q", buf.String())
	}
	buf.Reset()
	if err := Write(&buf, lines[:1], 0, true); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "2026-11-28T10:00:00.000000001Z hello world\n" {
		t.Errorf("timestamps: %q", buf.String())
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
