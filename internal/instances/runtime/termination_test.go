package runtime

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// The message follows the kubelet's rules: the file's content, and the
// log's tail only for a failed container under FallbackToLogsOnError whose
// file is empty.
func TestTerminationMessage(t *testing.T) {
	file := func(s string, err error) func() (string, error) { return func() (string, error) { return s, err } }
	logged := func(lines int, w io.Writer) error {
		for i := range 100 {
			fmt.Fprintf(w, "%s line %d of %d\n", strings.Repeat("-", 30), i, lines)
		}
		return nil
	}
	broken := func(int, io.Writer) error { return errors.New("gone") }
	const fallback = TerminationMessageFallbackToLogsOnError
	cases := []struct {
		name    string
		policy  string
		code    int32
		started bool
		file    func() (string, error)
		log     func(int, io.Writer) error
		want    string
	}{
		{"file", TerminationMessageFile, 0, true, file("DONE", nil), broken, "DONE"},
		{"default policy", "", 1, true, file("", nil), logged, ""},
		{"file on error", TerminationMessageFile, 1, true, file("", nil), logged, ""},
		{"fallback with a file", fallback, 1, true, file("why", nil), broken, "why"},
		{"fallback, success", fallback, 0, true, file("", nil), logged, ""},
		{"fallback, never started", fallback, 1, false, file("", nil), logged, ""},
		{"fallback", fallback, 2, true, file("", nil), logged, "line 99 of 80\n"},
		{"unreadable file", TerminationMessageFile, 0, true, file("", errors.New("not a regular file")),
			logged, "Error on reading termination log: not a regular file"},
		{"unreadable log", fallback, 1, true, file("", nil), broken, "Error on reading termination message from logs: gone"},
	}
	for _, c := range cases {
		got := TerminationMessage(c.policy, c.code, c.started, c.file, c.log)
		if c.name == "fallback" {
			if len(got) != MaxTerminationLogBytes || !strings.HasSuffix(got, c.want) {
				t.Errorf("%s: %d bytes ending %q, want %d ending %q", c.name, len(got), got[max(0, len(got)-20):],
					MaxTerminationLogBytes, c.want)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// A TailBuffer keeps the last bytes, whatever the sizes of the writes.
func TestTailBuffer(t *testing.T) {
	var all strings.Builder
	tb := NewTailBuffer(10)
	for i, n := range []int{3, 0, 9, 1, 25, 4, 10, 7, 2} {
		chunk := strings.Repeat(string(rune('a'+i)), n)
		all.WriteString(chunk)
		if _, err := tb.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
		s := all.String()
		if want := s[max(0, len(s)-10):]; tb.String() != want {
			t.Fatalf("after %q: %q, want %q", s, tb.String(), want)
		}
		if cap(tb.b) > 64 {
			t.Fatalf("the buffer grew to %d bytes", cap(tb.b))
		}
	}
}
