package crilog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A log's rotated files sit beside its current file at path, named
// path.<time of the rotation> (UTC, stampFormat: they sort as they were
// made), with gzSuffix once compressed; tmpSuffix marks a compression under
// way.
const (
	stampFormat = "20060102-150405.000000000"
	gzSuffix    = ".gz"
	tmpSuffix   = ".tmp"
)

// rotatedFiles are the files of a log besides its current one.
type rotatedFiles struct {
	// kept are the rotated files, oldest first.
	kept []string
	// stale are what interrupted compressions left: temporary files, and
	// plain files whose compressed copy is complete.
	stale []string
}

// listRotated finds the rotated files of the log at path.
func listRotated(path string) (rotatedFiles, error) {
	dir, prefix := filepath.Dir(path), filepath.Base(path)+"."
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return rotatedFiles{}, nil
	}
	if err != nil {
		return rotatedFiles{}, fmt.Errorf("list rotated logs: %w", err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			names[e.Name()] = true
		}
	}
	var rf rotatedFiles
	for n := range names {
		p := filepath.Join(dir, n)
		if strings.HasSuffix(n, tmpSuffix) || names[n+gzSuffix] {
			rf.stale = append(rf.stale, p)
		} else {
			rf.kept = append(rf.kept, p)
		}
	}
	sort.Slice(rf.kept, func(i, j int) bool {
		return strings.TrimSuffix(rf.kept[i], gzSuffix) < strings.TrimSuffix(rf.kept[j], gzSuffix)
	})
	sort.Strings(rf.stale)
	return rf, nil
}

// Files are the files of one log open for reading.
type Files struct {
	open    []*os.File
	sources []Source
	current *os.File
	// lastRotated is the newest rotated file's name, without gzSuffix.
	lastRotated string
}

// openAttempts bounds how often opening starts again when a rotation
// removes a file it listed.
const openAttempts = 3

// Open opens the files of the log at path: its rotated files and its
// current one (when there is one: it may be about to be created). Once
// open they stay readable as they were, whatever rotations do meanwhile.
// Close them after use.
func Open(path string) (*Files, error) { return OpenAfter(path, "") }

// OpenAfter opens the files of the log at path as Open does, but of the
// rotated files only those rotated after the one named after (as
// RotatedAs or LastRotated name it; "" for all).
func OpenAfter(path, after string) (*Files, error) {
	for attempt := 1; ; attempt++ {
		fs, err := openOnce(path, after)
		if err == nil || attempt == openAttempts || !errors.Is(err, os.ErrNotExist) {
			return fs, err
		}
	}
}

func openOnce(path, after string) (_ *Files, err error) {
	fs := &Files{}
	defer func() {
		if err != nil {
			fs.Close()
		}
	}()
	// The current file first: a rotation after this shows it among the
	// rotated files, where it is recognised, rather than lose it.
	cur, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open log: %w", err)
	}
	var curInfo os.FileInfo
	if cur != nil {
		fs.open = append(fs.open, cur)
		if curInfo, err = cur.Stat(); err != nil {
			return nil, fmt.Errorf("open log: %w", err)
		}
	}
	rf, err := listRotated(path)
	if err != nil {
		return nil, err
	}
	for _, name := range rf.kept {
		if base := strings.TrimSuffix(name, gzSuffix); base <= after {
			continue
		}
		src, info, err := fs.openRotated(name)
		if err != nil {
			return nil, err
		}
		if curInfo == nil || !os.SameFile(info, curInfo) {
			fs.sources = append(fs.sources, src)
			fs.lastRotated = strings.TrimSuffix(name, gzSuffix)
		}
	}
	if cur != nil {
		fs.current = cur
		fs.sources = append(fs.sources, Source{R: cur, Size: curInfo.Size()})
	}
	return fs, nil
}

// RotatedAs names the rotated file that f, once the current file of the
// log at path, has become. When f is not found (rotated twice more since,
// and compressed or removed), it names the newest rotated file: what lies
// between is lost to a reader of f. "" when there are no rotated files.
func RotatedAs(path string, f *os.File) (string, error) {
	was, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("find the rotated log: %w", err)
	}
	rf, err := listRotated(path)
	if err != nil || len(rf.kept) == 0 {
		return "", err
	}
	for _, name := range rf.kept {
		if info, err := os.Stat(name); err == nil && os.SameFile(info, was) {
			return name, nil
		}
	}
	return strings.TrimSuffix(rf.kept[len(rf.kept)-1], gzSuffix), nil
}

func (fs *Files) openRotated(name string) (Source, os.FileInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return Source{}, nil, fmt.Errorf("open rotated log: %w", err)
	}
	fs.open = append(fs.open, f)
	info, err := f.Stat()
	if err != nil {
		return Source{}, nil, fmt.Errorf("open rotated log: %w", err)
	}
	return Source{R: f, Size: info.Size(), Gzip: strings.HasSuffix(name, gzSuffix)}, info, nil
}

// Sources are the files to read, oldest first; none when the log has no
// file yet.
func (fs *Files) Sources() []Source { return fs.sources }

// LastRotated names the newest rotated file opened, for OpenAfter; "" when
// there is none.
func (fs *Files) LastRotated() string { return fs.lastRotated }

// Current is the current file and the size it had when opened, or nil.
func (fs *Files) Current() (*os.File, int64) {
	if fs.current == nil {
		return nil, 0
	}
	return fs.current, fs.sources[len(fs.sources)-1].Size
}

// Close closes the files.
func (fs *Files) Close() error {
	var errs []error
	for _, f := range fs.open {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Remove deletes the log at path with its rotated files.
func Remove(path string) error {
	rf, err := listRotated(path)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range append(append(rf.kept, rf.stale...), path) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
