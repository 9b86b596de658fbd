// Package throttle enforces the container instances service's request
// limits per subscription: ACI's sliding-window limits on creates and deletes
// (per 5 minutes and per hour) and ARM's token buckets for reads and writes.
//
// The limiter knows nothing of HTTP: its Decision tells what each budget has
// left, and a refusal is a *Refusal error around an errdefs.Throttled error;
// the HTTP edge (package api) turns both into ARM's headers and answer.
package throttle

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

// Kind is a class of request with its own limit.
type Kind string

// The kinds of request the limiter tells apart.
const (
	Create Kind = "create"
	Delete Kind = "delete"
	Read   Kind = "read"
	Write  Kind = "write"
)

// Budget is a budget a request spends from, named as ARM names it in the
// x-ms-ratelimit-remaining-… header that tells a client what is left of it.
type Budget string

// The budgets the limiter keeps.
const (
	// BudgetPT5M: creates, or deletes, in the last 5 minutes.
	BudgetPT5M Budget = "subscription-resource-requests-pt5m"
	// BudgetPT1H: creates, or deletes, in the last hour.
	BudgetPT1H Budget = "subscription-resource-requests-pt1h"
	// BudgetReads: the token bucket of reads.
	BudgetReads Budget = "subscription-reads"
	// BudgetWrites: the token bucket of writes.
	BudgetWrites Budget = "subscription-writes"
)

// Left is what one budget has left after a request.
type Left struct {
	Budget Budget
	Count  int
}

// Decision is the limiter's verdict on one request: what the budgets it
// spends from have left, which a client is told whether or not the request
// was allowed. The zero value tells nothing.
type Decision struct {
	Left []Left
}

func (d *Decision) tell(b Budget, count int) {
	d.Left = append(d.Left, Left{Budget: b, Count: count})
}

// Refusal is the error of a request the limiter refused: the core's
// throttled error (with RetryAfter) and the decision, whose budgets the
// client is told as well.
type Refusal struct {
	Decision Decision
	Err      *errdefs.Error
}

func (r *Refusal) Error() string { return r.Err.Error() }

// Unwrap returns the throttled error.
func (r *Refusal) Unwrap() error { return r.Err }

// MaxKeys bounds the budgets a limiter keeps at once (one per kind and
// subscription in use). Callers admit only subscriptions the service
// knows, so the bound is a backstop: past it, a subscription without a
// budget yet is throttled until idle budgets are dropped.
const MaxKeys = 10000

// sweepEvery is how often, at most, the limiter drops idle budgets.
const sweepEvery = time.Minute

// Limiter keeps the budgets of the subscriptions in use. A budget that is
// idle — a bucket full again, windows with no request left in them — is
// the same as a fresh one, so it is dropped: memory follows the
// subscriptions active in the last hour, not every name ever seen.
type Limiter struct {
	cfg   config.RateLimits
	clock clock.PassiveClock

	mu        sync.Mutex
	windows   map[string]*windowPair // key: kind/subscription
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// New returns a limiter for cfg; clk may be nil for the real clock.
func New(cfg config.RateLimits, clk clock.PassiveClock) *Limiter {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Limiter{cfg: cfg, clock: clk, windows: map[string]*windowPair{}, buckets: map[string]*rate.Limiter{},
		lastSweep: clk.Now()}
}

// Allow spends one request of kind for subscription (ARM ids are
// case-insensitive, so is the budget). It returns what the budgets have
// left and, when a budget is exhausted, a *Refusal whose error is
// errdefs.Throttled with RetryAfter set; a refused request spends nothing.
func (l *Limiter) Allow(kind Kind, subscription, action string) (Decision, error) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.sweep(now)
	}
	var d Decision
	var err *errdefs.Error
	switch kind {
	case Create, Delete:
		err = l.allowWindow(kind, subscription, action, now, &d)
	default:
		err = l.allowBucket(kind, subscription, now, &d)
	}
	if err != nil {
		return d, &Refusal{Decision: d, Err: err}
	}
	return d, nil
}

func (l *Limiter) allowWindow(kind Kind, subscription, action string, now time.Time, d *Decision) *errdefs.Error {
	per5m, per1h := l.cfg.CreatesPer5m, l.cfg.CreatesPer1h
	if kind == Delete {
		per5m, per1h = l.cfg.DeletesPer5m, l.cfg.DeletesPer1h
	}
	if per5m <= 0 && per1h <= 0 {
		return nil
	}
	key := string(kind) + "/" + strings.ToLower(subscription)
	w := l.windows[key]
	if w == nil {
		if !l.room(now) {
			return l.full(kind, subscription)
		}
		w = &windowPair{short: newWindow(per5m, 5*time.Minute), long: newWindow(per1h, time.Hour)}
		l.windows[key] = w
	}
	for _, win := range []*window{w.short, w.long} {
		if wait := win.wait(now); wait > 0 {
			tellRemaining(d, w, now)
			e := errdefs.New(errdefs.Throttled, "ResourceRequestsThrottled",
				"Number of requests for action '%s' exceeded the limit of '%d' for time interval '%s'. Please try again after '%d' seconds.",
				action, win.limit, interval(win.period), int((wait+time.Second-1)/time.Second))
			e.RetryAfter = wait
			return e
		}
	}
	w.short.add(now)
	w.long.add(now)
	tellRemaining(d, w, now)
	return nil
}

func tellRemaining(d *Decision, w *windowPair, now time.Time) {
	if r, ok := w.short.remaining(now); ok {
		d.tell(BudgetPT5M, r)
	}
	if r, ok := w.long.remaining(now); ok {
		d.tell(BudgetPT1H, r)
	}
}

func interval(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

func (l *Limiter) allowBucket(kind Kind, subscription string, now time.Time, d *Decision) *errdefs.Error {
	perSecond, burst, budget := l.cfg.ReadsPerSecond, l.cfg.ReadBurst, BudgetReads
	if kind == Write {
		perSecond, burst, budget = l.cfg.WritesPerSecond, l.cfg.WriteBurst, BudgetWrites
	}
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	key := string(kind) + "/" + strings.ToLower(subscription)
	b := l.buckets[key]
	if b == nil {
		if !l.room(now) {
			return l.full(kind, subscription)
		}
		b = rate.NewLimiter(rate.Limit(perSecond), burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		d.tell(budget, 0)
		e := errdefs.New(errdefs.Throttled, "SubscriptionRequestsThrottled",
			"Number of '%s' requests for subscription '%s' exceeded. Please try again after '%d' seconds after additional tokens are available.",
			kind, subscription, int((wait+time.Second-1)/time.Second))
		e.RetryAfter = wait
		return e
	}
	d.tell(budget, int(b.TokensAt(now)))
	return nil
}

// Len is the number of budgets the limiter keeps.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.windows) + len(l.buckets)
}

// sweep drops the idle budgets: buckets full again, windows empty.
func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for key, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, key)
		}
	}
	for key, w := range l.windows {
		if w.short.empty(now) && w.long.empty(now) {
			delete(l.windows, key)
		}
	}
}

// room reports whether one more budget may be kept, sweeping first when
// the limiter is full.
func (l *Limiter) room(now time.Time) bool {
	if len(l.windows)+len(l.buckets) < MaxKeys {
		return true
	}
	l.sweep(now)
	return len(l.windows)+len(l.buckets) < MaxKeys
}

// full is the answer when no budget can be kept for another subscription.
func (l *Limiter) full(kind Kind, subscription string) *errdefs.Error {
	e := errdefs.New(errdefs.Throttled, "SubscriptionRequestsThrottled",
		"Number of '%s' requests for subscription '%s' exceeded. Please try again after '%d' seconds.",
		kind, subscription, int(sweepEvery/time.Second))
	e.RetryAfter = sweepEvery
	return e
}

type windowPair struct {
	short, long *window
}

// window is a sliding-window log: the times of the requests counted in the
// last period, at most limit of them.
type window struct {
	limit  int
	period time.Duration
	times  []time.Time
}

func newWindow(limit int, period time.Duration) *window {
	return &window{limit: limit, period: period}
}

func (w *window) expire(now time.Time) {
	i := 0
	for i < len(w.times) && !w.times[i].After(now.Add(-w.period)) {
		i++
	}
	w.times = w.times[i:]
}

// wait is how long until one more request fits; zero when it fits now.
func (w *window) wait(now time.Time) time.Duration {
	if w.limit <= 0 {
		return 0
	}
	w.expire(now)
	if len(w.times) < w.limit {
		return 0
	}
	return w.times[0].Add(w.period).Sub(now)
}

// empty reports whether no request is counted any more.
func (w *window) empty(now time.Time) bool {
	w.expire(now)
	return len(w.times) == 0
}

func (w *window) add(now time.Time) {
	if w.limit > 0 {
		w.times = append(w.times, now)
	}
}

func (w *window) remaining(now time.Time) (int, bool) {
	if w.limit <= 0 {
		return 0, false
	}
	w.expire(now)
	return w.limit - len(w.times), true
}
