package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// headSize bounds what the backward scan keeps of a line: enough for its
// timestamp, stream and tag, never its content.
const headSize = 64

// head is the first bytes of a line, assembled back to front.
type head struct {
	b [headSize]byte
	n int
}

// prepend puts earlier bytes of the line before what head holds, keeping
// only the first headSize bytes.
func (h *head) prepend(earlier []byte) {
	if len(earlier) >= headSize {
		h.n = copy(h.b[:], earlier[:headSize])
		return
	}
	keep := min(h.n, headSize-len(earlier))
	copy(h.b[len(earlier):], h.b[:keep])
	copy(h.b[:], earlier)
	h.n = len(earlier) + keep
}

func (h *head) bytes() []byte { return h.b[:h.n] }

// scanBack reads r's first size bytes backwards in chunks of len(buf) and
// calls fn for each complete line, last first, with its start and end (the
// offset after its newline) and its head. Bytes after the last newline
// (a line still being written) are skipped. It stops when fn returns false.
// Memory stays within buf whatever the file's size or its lines' length.
func scanBack(r io.ReaderAt, size int64, buf []byte, fn func(start, end int64, h []byte) bool) error {
	var h head
	end := int64(-1) // end of the line being assembled; -1 before the first newline
	for pos := size; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		chunk := buf[:n]
		if err := readFull(r, chunk, pos); err != nil {
			return err
		}
		for {
			i := bytes.LastIndexByte(chunk, '\n')
			if i < 0 {
				break
			}
			if end >= 0 {
				h.prepend(chunk[i+1:])
				start := pos + int64(i) + 1
				if !fn(start, end, h.bytes()) {
					return nil
				}
			}
			h.n = 0
			end = pos + int64(i) + 1
			chunk = chunk[:i]
		}
		if end >= 0 {
			h.prepend(chunk)
		}
	}
	if end > 0 {
		fn(0, end, h.bytes())
	}
	return nil
}

// readFull fills p from r at off; reaching the end of r with p full is no
// error.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) && (err == nil || errors.Is(err, io.EOF)) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the file shrank
	}
	return fmt.Errorf("read log at %d: %w", off, err)
}
