package fake

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// watcher queues updates for one Watch call; its goroutine delivers them.
type watcher struct {
	notify func(runtime.Update)
	// wake has room for one signal: updates are queued.
	wake chan struct{}
	// stop is closed by Close.
	stop chan struct{}

	mu    sync.Mutex
	queue []*runtime.Update
	// latest is each group's last queued update, which later changes of
	// the group merge into.
	latest map[string]*runtime.Update
}

// Watch calls notify, on a goroutine of its own, with every change of a
// group's status and the events since the previous call for that group,
// until ctx ends or the runtime is closed. Changes not yet delivered may
// be merged into one update, without losing events. The watcher is
// registered when Watch returns, and first gets the current status of
// every group, without events. notify is never called with the runtime's
// lock held, nor concurrently with itself; it may call the runtime.
func (r *Runtime) Watch(ctx context.Context, notify func(runtime.Update)) {
	w := &watcher{
		notify: notify,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		latest: make(map[string]*runtime.Update),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || ctx.Err() != nil {
		return
	}
	r.watchers[w] = struct{}{}
	for _, id := range slices.Sorted(maps.Keys(r.groups)) {
		w.enqueue(runtime.Update{Status: r.groups[id].snapshot()})
	}
	r.wg.Add(1)
	go r.deliver(ctx, w)
}

// publish hands a group's unpublished change to every watcher.
func (r *Runtime) publish(g *group) {
	if !g.dirty {
		return
	}
	r.gen++
	g.gen = r.gen
	u := runtime.Update{Status: g.snapshot(), Events: g.pending, Removed: g.removed}
	g.pending, g.dirty = nil, false
	for w := range r.watchers {
		w.enqueue(u)
	}
}

// enqueue queues u, merging it into the group's queued update if there is
// one. u's status is shared with other watchers and never modified.
func (w *watcher) enqueue(u runtime.Update) {
	w.mu.Lock()
	id := u.Status.ID
	if e := w.latest[id]; e != nil && !e.Removed {
		e.Status = u.Status
		e.Events = append(e.Events, u.Events...)
		e.Removed = u.Removed
	} else {
		e := &runtime.Update{Status: u.Status, Events: slices.Clone(u.Events), Removed: u.Removed}
		w.queue = append(w.queue, e)
		w.latest[id] = e
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take removes and returns the queued updates.
func (w *watcher) take() []*runtime.Update {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queue
	w.queue = nil
	clear(w.latest)
	return q
}

// deliver calls the watcher's notify with its queued updates, in order,
// until ctx ends or the watcher is stopped.
func (r *Runtime) deliver(ctx context.Context, w *watcher) {
	defer r.wg.Done()
	defer r.dropWatcher(w)
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-w.wake:
		}
		for _, u := range w.take() {
			if ctx.Err() != nil || isClosed(w.stop) {
				return
			}
			w.notify(runtime.Update{Status: copyStatus(u.Status), Events: u.Events, Removed: u.Removed})
		}
	}
}

// dropWatcher unregisters a watcher whose delivery has ended.
func (r *Runtime) dropWatcher(w *watcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.watchers, w)
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
