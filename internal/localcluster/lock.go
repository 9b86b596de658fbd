package localcluster

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/vnode-io/vnode/internal/process"
)

// errLocked means another process supervises a cluster in the directory.
var errLocked = errors.New("a cluster is already running from this state directory")

// acquireLock takes the exclusive lock of the state directory, held for as
// long as the supervising process runs the cluster. The kernel drops it
// when the process dies, so a crash never leaves a stale lock.
func acquireLock(l layout) (*os.File, error) {
	if err := os.MkdirAll(l.run(), 0o700); err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	f, err := os.OpenFile(l.lockFile(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid, _ := process.ReadPid(l.supervisorPid())
			return nil, fmt.Errorf("%w (%s, vnode pid %d): stop it with `vnode down --state-dir %s`", errLocked, l.root, pid, l.root)
		}
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	if err := os.WriteFile(l.supervisorPid(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", l.supervisorPid(), err)
	}
	return f, nil
}

func releaseLock(l layout, f *os.File) {
	os.Remove(l.supervisorPid()) //nolint:errcheck // a stale pid file is harmless: the lock is the truth
	f.Close()
}

// locked reports whether some process holds the lock of the state
// directory, that is whether a cluster is running from it.
func locked(l layout) bool {
	f, err := os.OpenFile(l.lockFile(), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
