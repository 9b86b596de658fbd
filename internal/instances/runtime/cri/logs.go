package cri

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/runtime/cri/crilog"
)

// containerRef returns the CRI id and log path of a group's container.
func (r *Runtime) containerRef(id, name string) (cid, logPath string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return "", "", err
	}
	c := g.container(name)
	if c == nil || c.id == "" {
		return "", "", fmt.Errorf("container %s of group %s: %w", name, id, runtime.ErrNotFound)
	}
	return c.id, r.logPath(id, name, c.attempt), nil
}

// previousLog returns the log path of a container's previous attempt.
func (r *Runtime) previousLog(id, name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return "", err
	}
	c := g.container(name)
	if c == nil {
		return "", fmt.Errorf("container %s of group %s: %w", name, id, runtime.ErrNotFound)
	}
	if c.attempt == 0 {
		return "", fmt.Errorf("container %s of group %s: %w", name, id, runtime.ErrNoPreviousLog)
	}
	return r.logPath(id, name, c.attempt-1), nil
}

// logPath is the current file of an attempt's log; its rotated files sit
// beside it (crilog).
func (r *Runtime) logPath(id, name string, attempt uint32) string {
	return filepath.Join(r.groupDir(id), "logs", name, fmt.Sprintf("%d.log", attempt))
}

// followInterval is how often a followed log is checked for new lines.
const followInterval = 200 * time.Millisecond

// Logs writes the current attempt's log of a container, its rotated files
// included; with opts.Follow it then writes new records as they arrive,
// across rotations, until that attempt stops running and its log has been
// read to the end. Memory stays bounded by a chunk of the file and the
// lines a tail asks for.
func (r *Runtime) Logs(ctx context.Context, id, container string, opts runtime.LogOptions, w io.Writer) error {
	lw := crilog.NewWriter(w, crilog.Options{Since: opts.Since, Tail: opts.Tail, Timestamps: opts.Timestamps})
	if opts.Previous {
		return r.previousLogs(id, container, lw)
	}
	cid, path, err := r.containerRef(id, container)
	if err != nil {
		return err
	}
	fs, err := crilog.Open(path)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", container, err)
	}
	f := &follower{path: path, lw: lw}
	f.adopt(fs)
	defer f.close()
	if len(fs.Sources()) == 0 {
		return nil // not started yet
	}
	if err := lw.WriteLog(fs.Sources()); err != nil || !opts.Follow {
		return err
	}
	return r.follow(ctx, id, container, cid, f)
}

// previousLogs writes the log of a container's previous attempt.
func (r *Runtime) previousLogs(id, container string, lw *crilog.Writer) error {
	path, err := r.previousLog(id, container)
	if err != nil {
		return err
	}
	fs, err := crilog.Open(path)
	if err != nil {
		return fmt.Errorf("open log of %s's previous run: %w", container, err)
	}
	defer fs.Close()
	if len(fs.Sources()) == 0 {
		return fmt.Errorf("log of %s's previous run: %w", container, runtime.ErrNoPreviousLog)
	}
	return lw.WriteLog(fs.Sources())
}

// follow writes what the attempt cid adds to its log until it stops.
func (r *Runtime) follow(ctx context.Context, id, container, cid string, f *follower) error {
	ticker := r.o.Clock.NewTicker(followInterval)
	defer ticker.Stop()
	// The log's last lines may land just after the container is seen
	// stopped: read once more a tick later before ending.
	stopped := false
	for {
		running := r.runningAttempt(id, container, cid)
		if err := f.step(); err != nil {
			return err
		}
		if stopped && !f.moving {
			return nil
		}
		stopped = !running
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
		}
	}
}

// runningAttempt reports whether the container's attempt cid still runs.
func (r *Runtime) runningAttempt(id, name, cid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return false
	}
	c := g.container(name)
	return c != nil && c.id == cid && c.status.Current.State == runtime.StateRunning
}

// follower reads a log's current file as it grows and moves on to the new
// file when the log is rotated.
type follower struct {
	path string
	lw   *crilog.Writer
	fs   *crilog.Files // the files open, cur among them
	cur  *os.File      // nil until the file exists
	off  int64         // how much of cur has been read
	// moving is set when path names another file than cur: containerd
	// may still finish a line in cur after the rename, so cur is read to
	// its end once more at the next step before the files after it.
	moving bool
	// rotatedAs names the rotated file that was cur (or, before there
	// is a cur, the newest rotated file read): where the next files begin.
	rotatedAs string
}

// adopt makes fs the files read, its current file the one followed.
func (f *follower) adopt(fs *crilog.Files) {
	f.close()
	f.fs = fs
	f.cur, f.off = fs.Current()
	f.rotatedAs = fs.LastRotated()
}

// step writes what was added since the last step.
func (f *follower) step() error {
	if f.cur != nil {
		off, err := f.lw.Follow(f.cur, f.off)
		f.off = off
		if err != nil {
			return err
		}
	}
	if f.cur == nil || f.moving {
		done, err := f.move()
		if err != nil {
			return err
		}
		f.moving = f.moving && !done
	}
	if !f.moving && f.rotated() {
		name, err := crilog.RotatedAs(f.path, f.cur)
		if err != nil {
			return err
		}
		f.moving, f.rotatedAs = true, name
	}
	return nil
}

// rotated reports whether path no longer names the file being read.
func (f *follower) rotated() bool {
	if f.cur == nil {
		return false
	}
	now, err := os.Stat(f.path)
	if err != nil {
		return true // renamed, and the new file not created yet
	}
	was, err := f.cur.Stat()
	return err == nil && !os.SameFile(now, was)
}

// move reads the files rotated after cur, when the log was rotated more
// than once meanwhile, and the new current file, which it then follows.
// It reports false while there is no new current file yet.
func (f *follower) move() (bool, error) {
	fs, err := crilog.OpenAfter(f.path, f.rotatedAs)
	if err != nil {
		return false, fmt.Errorf("open log: %w", err)
	}
	next, _ := fs.Current()
	if next == nil || (f.cur != nil && sameFile(next, f.cur)) { // not created yet, or a rotation undone
		return next != nil, fs.Close()
	}
	f.lw.EndFile()
	err = f.lw.WriteLog(fs.Sources())
	f.adopt(fs)
	return true, err
}

func (f *follower) close() {
	if f.fs != nil {
		_ = f.fs.Close()
	}
}

func sameFile(a, b *os.File) bool {
	ai, err := a.Stat()
	if err != nil {
		return false
	}
	bi, err := b.Stat()
	return err == nil && os.SameFile(ai, bi)
}
