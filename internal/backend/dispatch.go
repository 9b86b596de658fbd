package backend

import (
	"context"
	"sync"
)

// Dispatcher delivers pushed states to subscribers in order, each on a
// goroutine of its own with an unbounded queue, so that a slow subscriber
// never blocks the backend and no state is dropped. Backends embed it to
// implement Subscribe.
type Dispatcher struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	fn    func(*PodState)
	mu    sync.Mutex
	cond  *sync.Cond
	queue []*PodState
	done  bool
}

// Subscribe registers fn until ctx ends.
func (d *Dispatcher) Subscribe(ctx context.Context, fn func(*PodState)) {
	s := &subscriber{fn: fn}
	s.cond = sync.NewCond(&s.mu)
	d.mu.Lock()
	if d.subs == nil {
		d.subs = map[*subscriber]struct{}{}
	}
	d.subs[s] = struct{}{}
	d.mu.Unlock()
	go s.run()
	go func() {
		<-ctx.Done()
		d.mu.Lock()
		delete(d.subs, s)
		d.mu.Unlock()
		s.mu.Lock()
		s.done = true
		s.cond.Signal()
		s.mu.Unlock()
	}()
}

// Publish queues a copy of state for every subscriber.
func (d *Dispatcher) Publish(state *PodState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for s := range d.subs {
		s.mu.Lock()
		s.queue = append(s.queue, state.DeepCopy())
		s.cond.Signal()
		s.mu.Unlock()
	}
}

func (s *subscriber) run() {
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.done {
			s.cond.Wait()
		}
		if s.done {
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, st := range batch {
			s.fn(st)
		}
	}
}
