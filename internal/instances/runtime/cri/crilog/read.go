package crilog

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"time"
)

// Source is one file of a log.
type Source struct {
	// R reads the file; Size is how much of it there is to read.
	R    io.ReaderAt
	Size int64
	// Gzip marks a compressed file: it is read forward only, whole.
	Gzip bool
}

// Options select the records of a log and how they are written.
type Options struct {
	// Since, when not zero, drops the records written before it.
	Since time.Time
	// Tail, when positive, keeps only the last Tail records.
	Tail int
	// Timestamps prefixes each record with its RFC 3339 time.
	Timestamps bool
}

// chunkSize is how much of a file is read at once.
const chunkSize = 64 << 10

// Writer writes the records of a log as a user reads them. It reads files
// in chunks and a tail from the end of the log: its memory is one chunk,
// the records a tail asks for and one record being assembled, whatever the
// size of the files. A Writer is not safe for concurrent use.
type Writer struct {
	sink sink
	d    Decoder
	buf  []byte
}

// NewWriter returns a Writer of the records o selects to w.
func NewWriter(w io.Writer, o Options) *Writer {
	return &Writer{sink: sink{w: bufio.NewWriter(w), o: o}, buf: make([]byte, chunkSize)}
}

// WriteLog writes the records of a log made of srcs, oldest first: the
// rotated files, then the current one. A partial record may continue from
// one file into the next; one the last file leaves unfinished is written
// as it is, without a newline, as the kubelet writes it (a container's
// last output without a newline ends so). A line the last file leaves
// unfinished waits in the Writer for Follow.
func (lw *Writer) WriteLog(srcs []Source) error {
	at, err := findStart(srcs, lw.sink.o, lw.buf)
	if err != nil {
		return err
	}
	for i := at.src; i < len(srcs); i++ {
		off := int64(0)
		if i == at.src {
			off = at.off
		}
		if err := lw.readSource(srcs[i], off); err != nil {
			return err
		}
		if i < len(srcs)-1 {
			lw.EndFile()
		}
	}
	if err := lw.flushPartial(); err != nil {
		return err
	}
	return lw.sink.endTail()
}

// flushPartial passes on the records begun and not ended, as they are.
func (lw *Writer) flushPartial() error {
	for _, l := range lw.d.Flush() {
		if err := lw.sink.add(l); err != nil {
			return err
		}
	}
	return nil
}

// readSource decodes src from off to its size.
func (lw *Writer) readSource(src Source, off int64) error {
	var r io.Reader = io.NewSectionReader(src.R, off, src.Size-off)
	if src.Gzip {
		zr, err := gzip.NewReader(io.NewSectionReader(src.R, 0, src.Size))
		if err != nil {
			return fmt.Errorf("read compressed log: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	for {
		n, err := r.Read(lw.buf)
		if werr := lw.decode(lw.buf[:n]); werr != nil {
			return werr
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
}

// Follow writes the records of r (the current file, growing) from off to
// its end for now, and returns the offset it reached. A tail no longer
// applies: every record is written, a record not ended yet as far as it
// goes (the kubelet writes P lines as they come), and w flushed.
func (lw *Writer) Follow(r io.ReaderAt, off int64) (int64, error) {
	for {
		n, err := r.ReadAt(lw.buf, off)
		off += int64(n)
		if werr := lw.decode(lw.buf[:n]); werr != nil {
			return off, werr
		}
		if errors.Is(err, io.EOF) || (err == nil && n < len(lw.buf)) {
			if err := lw.flushPartial(); err != nil {
				return off, err
			}
			return off, lw.sink.w.Flush()
		}
		if err != nil {
			return off, fmt.Errorf("read log: %w", err)
		}
	}
}

// EndFile drops a line the file read last left unfinished: the next data
// come from another file. Records begun by P lines carry on.
func (lw *Writer) EndFile() { lw.d.rest = lw.d.rest[:0] }

func (lw *Writer) decode(data []byte) error {
	for _, l := range lw.d.Decode(data) {
		if err := lw.sink.add(l); err != nil {
			return err
		}
	}
	return nil
}

// sink filters records by since, keeps the last ones of a tail until the
// tail is read, and writes them.
type sink struct {
	w *bufio.Writer
	o Options
	// ring holds the last o.Tail records so far, the oldest at next once
	// full; it grows with what arrives, not with what the tail asks for.
	ring []Line
	next int
}

func (s *sink) add(l Line) error {
	if !s.o.Since.IsZero() && l.Time.Before(s.o.Since) {
		return nil
	}
	if s.o.Tail <= 0 {
		return s.write(l)
	}
	if len(s.ring) < s.o.Tail {
		s.ring = append(s.ring, l)
		return nil
	}
	s.ring[s.next] = l
	s.next = (s.next + 1) % len(s.ring)
	return nil
}

// endTail writes the records a tail kept and lets later ones through.
func (s *sink) endTail() error {
	for i := range s.ring {
		if err := s.write(s.ring[(s.next+i)%len(s.ring)]); err != nil {
			return err
		}
	}
	s.ring, s.next, s.o.Tail = nil, 0, 0
	return s.w.Flush()
}

func (s *sink) write(l Line) error {
	if s.o.Timestamps {
		s.w.WriteString(l.Time.UTC().Format(time.RFC3339Nano))
		s.w.WriteByte(' ')
	}
	s.w.Write(l.Content)
	if l.Partial {
		return nil
	}
	if err := s.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}
