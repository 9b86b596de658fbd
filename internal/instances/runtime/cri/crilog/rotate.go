package crilog

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Policy bounds the files of a log.
type Policy struct {
	// MaxSize is the size at which the current file is rotated.
	MaxSize int64
	// MaxFiles is how many files the log may have, the current one
	// included; at least 2.
	MaxFiles int
}

// Check reports a policy that cannot be applied.
func (p Policy) Check() error {
	if p.MaxSize <= 0 {
		return fmt.Errorf("log max size %d: it must be positive", p.MaxSize)
	}
	if p.MaxFiles < 2 {
		return fmt.Errorf("log max files %d: at least 2 (the current file and a rotated one)", p.MaxFiles)
	}
	return nil
}

// Rotate rotates the log at path once its current file has reached
// p.MaxSize, and reports whether it did. reopen must make the writer
// (containerd, through CRI's ReopenContainerLog) close its file and create
// a new one at path.
//
// The approach is the kubelet's container log manager's: make room first
// (the oldest rotated files go, so that with the file about to be rotated
// and the new current one the log has p.MaxFiles), compress the rotated
// files that remain, then rename the current file to path.<now> and
// reopen. The newest rotated file stays plain: a follower may still be
// reading its last lines. When reopen fails, the file is renamed back and
// the next round tries again; a current file found missing (a rotation
// cut short between the two) is reopened.
func Rotate(ctx context.Context, path string, now time.Time, p Policy, reopen func(context.Context) error) (bool, error) {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := reopen(ctx); err != nil {
			return false, fmt.Errorf("reopen the missing log %s: %w", path, err)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rotate log: %w", err)
	}
	if info.Size() < p.MaxSize {
		return false, nil
	}
	rotated := path + "." + now.UTC().Format(stampFormat)
	for _, name := range []string{rotated, rotated + gzSuffix} {
		if _, err := os.Lstat(name); err == nil {
			return false, fmt.Errorf("rotate log %s: %s exists already", path, name)
		}
	}
	if err := makeRoom(path, p.MaxFiles-2); err != nil {
		return false, err
	}
	if err := os.Rename(path, rotated); err != nil {
		return false, fmt.Errorf("rotate log: %w", err)
	}
	if err := reopen(ctx); err != nil {
		if rerr := os.Rename(rotated, path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rename the log back: %w", rerr))
		}
		return false, fmt.Errorf("reopen log %s: %w", path, err)
	}
	return true, nil
}

// makeRoom removes what interrupted compressions left and the oldest
// rotated files beyond keep, then compresses the plain ones left.
func makeRoom(path string, keep int) error {
	rf, err := listRotated(path)
	if err != nil {
		return err
	}
	excess := max(0, len(rf.kept)-keep)
	for _, name := range append(rf.stale, rf.kept[:excess]...) {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove an old log: %w", err)
		}
	}
	for _, name := range rf.kept[excess:] {
		if strings.HasSuffix(name, gzSuffix) {
			continue
		}
		if err := compress(name); err != nil {
			return err
		}
	}
	return nil
}

// compress replaces a rotated file with its gzip: written aside, synced,
// renamed into place, and only then the plain file removed, so that a
// crash at any point leaves one complete copy (listRotated tells the
// leftovers).
func compress(name string) (err error) {
	in, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("compress log: %w", err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("compress log: %w", err)
	}
	tmp := name + tmpSuffix
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return fmt.Errorf("compress log: %w", err)
	}
	defer func() {
		if err != nil {
			_ = out.Close()
			_ = os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		return fmt.Errorf("compress log %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress log %s: %w", name, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("compress log %s: %w", name, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("compress log %s: %w", name, err)
	}
	if err := os.Rename(tmp, name+gzSuffix); err != nil {
		return fmt.Errorf("compress log %s: %w", name, err)
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove the compressed log %s: %w", name, err)
	}
	return nil
}
