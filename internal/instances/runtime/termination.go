package runtime

import (
	"fmt"
	"io"
)

// The termination message policies, as Kubernetes names them.
const (
	// TerminationMessageFile: the message is what the container wrote to
	// its termination message file. An empty policy means this one.
	TerminationMessageFile = "File"
	// TerminationMessageFallbackToLogsOnError: as File, but when the file
	// is empty and the container failed, the tail of its log.
	TerminationMessageFallbackToLogsOnError = "FallbackToLogsOnError"
)

// Bounds of a termination message, the kubelet's: the file's last
// MaxTerminationMessageBytes, or the last MaxTerminationLogLines lines of
// the log cut to their last MaxTerminationLogBytes.
const (
	MaxTerminationMessageBytes = 4096
	MaxTerminationLogLines     = 80
	MaxTerminationLogBytes     = 2048
)

// TerminationMessage computes the termination message of a container that
// exited with code, as the kubelet does. readFile returns the end of the
// container's termination message file (at most MaxTerminationMessageBytes),
// "" when the container has none; readLog writes the last lines of its log
// to w. The log is read only under FallbackToLogsOnError, for a container
// that started and exited with a code other than 0 and left its file empty.
// A failure to read becomes the message, as with the kubelet.
func TerminationMessage(policy string, code int32, started bool, readFile func() (string, error),
	readLog func(lines int, w io.Writer) error) string {
	msg, err := readFile()
	if err != nil {
		return fmt.Sprintf("Error on reading termination log: %v", err)
	}
	if msg != "" || policy != TerminationMessageFallbackToLogsOnError || code == 0 || !started {
		return msg
	}
	tail := NewTailBuffer(MaxTerminationLogBytes)
	if err := readLog(MaxTerminationLogLines, tail); err != nil {
		return fmt.Sprintf("Error on reading termination message from logs: %v", err)
	}
	return tail.String()
}

// TailBuffer is an io.Writer that keeps the last bytes written to it, at
// most its size: its memory never grows beyond twice that.
type TailBuffer struct {
	size int
	b    []byte
}

// NewTailBuffer returns a TailBuffer that keeps the last size bytes.
func NewTailBuffer(size int) *TailBuffer {
	return &TailBuffer{size: size}
}

// Write implements io.Writer; it never fails.
func (t *TailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.size {
		t.b = append(t.b[:0], p[len(p)-t.size:]...)
		return n, nil
	}
	if len(t.b)+len(p) > 2*t.size {
		t.b = append(t.b[:0], t.b[len(t.b)-(t.size-len(p)):]...)
	}
	t.b = append(t.b, p...)
	return n, nil
}

// String returns the bytes kept.
func (t *TailBuffer) String() string {
	return string(t.b[max(0, len(t.b)-t.size):])
}
