package cri

import (
	"context"
	"sync"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// watcher delivers updates to one notify function, in order, never
// concurrently, coalescing the updates of a group it has not delivered yet.
type watcher struct {
	notify  func(runtime.Update)
	mu      sync.Mutex
	pending map[string]*runtime.Update
	order   []string
	wake    chan struct{}
}

// Watch calls notify with every change until ctx ends. A new watcher first
// gets the current status of every group.
func (r *Runtime) Watch(ctx context.Context, notify func(runtime.Update)) {
	w := &watcher{notify: notify, pending: map[string]*runtime.Update{}, wake: make(chan struct{}, 1)}
	r.mu.Lock()
	r.watchers[w] = struct{}{}
	for _, g := range r.groups {
		w.enqueue(runtime.Update{Status: g.snapshot(r.o.Clock.Now())})
	}
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		w.run(ctx, r.ctx)
		r.mu.Lock()
		delete(r.watchers, w)
		r.mu.Unlock()
	}()
}

func (w *watcher) enqueue(u runtime.Update) {
	w.mu.Lock()
	id := u.Status.ID
	if p := w.pending[id]; p != nil {
		p.Status = u.Status
		p.Events = append(p.Events, u.Events...)
		p.Removed = u.Removed
	} else {
		c := u
		c.Events = append([]runtime.Event(nil), u.Events...)
		w.pending[id] = &c
		w.order = append(w.order, id)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) run(ctx, rctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-rctx.Done():
			return
		case <-w.wake:
		}
		w.mu.Lock()
		batch := make([]runtime.Update, 0, len(w.order))
		for _, id := range w.order {
			batch = append(batch, *w.pending[id])
		}
		w.pending, w.order = map[string]*runtime.Update{}, nil
		w.mu.Unlock()
		for _, u := range batch {
			w.notify(u)
		}
	}
}

// publish sends a changed group to every watcher. Callers hold r.mu.
func (r *Runtime) publish(g *group, removed bool) {
	if !g.dirty && !removed {
		return
	}
	r.gen++
	g.gen = r.gen
	u := runtime.Update{Status: g.snapshot(r.o.Clock.Now()), Events: g.pending, Removed: removed}
	g.pending, g.dirty = nil, false
	for w := range r.watchers {
		w.enqueue(u)
	}
}
