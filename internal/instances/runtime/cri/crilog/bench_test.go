package crilog

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// largeLog writes a synthetic log of about 64 MiB to a file.
func largeLog(b *testing.B) *os.File {
	b.Helper()
	log := synthetic{lines: 1_200_000}
	f, err := os.Create(filepath.Join(b.TempDir(), "0.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if _, err := io.Copy(f, io.NewSectionReader(log, 0, log.size())); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkTail reads the last record of a large log file: its cost (time,
// bytes allocated) must not grow with the file.
func BenchmarkTail(b *testing.B) {
	f := largeLog(b)
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := NewWriter(io.Discard, Options{Tail: 1}).WriteLog([]Source{{R: f, Size: st.Size()}}); err != nil {
			b.Fatal(err)
		}
	}
}
