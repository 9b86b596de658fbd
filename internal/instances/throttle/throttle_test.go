package throttle

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

func TestCreateWindows(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	l := New(config.RateLimits{CreatesPer5m: 2, CreatesPer1h: 3}, clk)
	h := told{}
	for i, want := range []string{"1", "0"} {
		if err := allow(t, l, Create, "sub", "write", h); err != nil {
			t.Fatalf("create %d refused: %v", i, err)
		}
		if got := h[BudgetPT5M]; got != want {
			t.Errorf("after create %d: pt5m remaining %s, want %s", i, got, want)
		}
	}
	err := allow(t, l, Create, "sub", "Microsoft.ContainerInstance/containerGroups/write", h)
	if err == nil || armerr.From(err).Status != http.StatusTooManyRequests || err.Code != "ResourceRequestsThrottled" {
		t.Fatalf("third create in 5 minutes: %v", err)
	}
	if err.RetryAfter != 5*time.Minute {
		t.Errorf("retry after %v, want 5m", err.RetryAfter)
	}
	if err := allow(t, l, Create, "other", "write", told{}); err != nil {
		t.Errorf("another subscription was throttled: %v", err)
	}
	if err := allow(t, l, Delete, "sub", "delete", told{}); err != nil {
		t.Errorf("deletes share the create budget: %v", err)
	}
	clk.SetTime(clk.Now().Add(5*time.Minute + time.Second))
	if err := allow(t, l, Create, "sub", "write", h); err != nil {
		t.Fatalf("create after the 5-minute window refused: %v", err)
	}
	if got := h[BudgetPT1H]; got != "0" {
		t.Errorf("pt1h remaining %s, want 0", got)
	}
	err = allow(t, l, Create, "sub", "write", h)
	if err == nil {
		t.Fatal("fourth create within the hour allowed")
	}
	if want := time.Hour - 5*time.Minute - time.Second; err.RetryAfter != want {
		t.Errorf("retry after %v, want %v", err.RetryAfter, want)
	}
}

func TestReadBucket(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	l := New(config.RateLimits{ReadsPerSecond: 2, ReadBurst: 3}, clk)
	h := told{}
	for i := 0; i < 3; i++ {
		if err := allow(t, l, Read, "sub", "read", h); err != nil {
			t.Fatalf("read %d refused: %v", i, err)
		}
	}
	err := allow(t, l, Read, "sub", "read", h)
	if err == nil || err.Code != "SubscriptionRequestsThrottled" || err.RetryAfter != 500*time.Millisecond {
		t.Fatalf("fourth read: %+v", err)
	}
	clk.SetTime(clk.Now().Add(500 * time.Millisecond))
	if err := allow(t, l, Read, "sub", "read", h); err != nil {
		t.Fatalf("read after refill refused: %v", err)
	}
	if err := allow(t, l, Write, "sub", "write", h); err != nil {
		t.Errorf("writes unlimited by default config were throttled: %v", err)
	}
}

// Budgets of subscriptions no longer in use are dropped: many distinct
// subscriptions, then quiet, leave the limiter with no more than the
// budgets still counting.
func TestIdleBudgetsAreDropped(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	l := New(config.RateLimits{CreatesPer5m: 10, CreatesPer1h: 20, ReadsPerSecond: 10, ReadBurst: 20}, clk)
	for i := range 500 {
		sub := fmt.Sprintf("sub-%d", i)
		if err := allow(t, l, Read, sub, "read", told{}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if err := allow(t, l, Create, sub, "write", told{}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if n := len(l.buckets) + len(l.windows); n != 1000 {
		t.Fatalf("%d budgets while in use, want 1000", n)
	}
	// The buckets refill within 2 s; the windows empty after an hour.
	clk.SetTime(clk.Now().Add(2 * time.Minute))
	if err := allow(t, l, Read, "active", "read", told{}); err != nil {
		t.Fatal(err)
	}
	if n := len(l.buckets); n != 1 {
		t.Errorf("%d buckets after the others refilled, want 1 (the active subscription's)", n)
	}
	clk.SetTime(clk.Now().Add(time.Hour))
	if err := allow(t, l, Read, "active", "read", told{}); err != nil {
		t.Fatal(err)
	}
	if n := len(l.buckets) + len(l.windows); n > 1 {
		t.Errorf("%d budgets an hour later, want at most 1", n)
	}
	// A dropped budget is a fresh one: the subscription's creates count anew.
	h := told{}
	if err := allow(t, l, Create, "sub-0", "write", h); err != nil || h[BudgetPT5M] != "9" {
		t.Errorf("create after the budget was dropped: %v, pt5m remaining %q, want 9", err, h[BudgetPT5M])
	}
}

// Past MaxKeys budgets in use, a new subscription is throttled rather
// than given memory; the ones in use keep theirs.
func TestBudgetsAreBounded(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	l := New(config.RateLimits{ReadsPerSecond: 1, ReadBurst: 5}, clk)
	for i := range MaxKeys {
		if err := allow(t, l, Read, fmt.Sprintf("sub-%d", i), "read", told{}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	err := allow(t, l, Read, "one-too-many", "read", told{})
	if err == nil || armerr.From(err).Status != http.StatusTooManyRequests {
		t.Fatalf("a budget past MaxKeys: %v, want 429", err)
	}
	if n := l.Len(); n != MaxKeys {
		t.Errorf("%d budgets, want %d", n, MaxKeys)
	}
	if err := allow(t, l, Read, "sub-1", "read", told{}); err != nil {
		t.Errorf("a subscription in use was refused: %v", err)
	}
	clk.SetTime(clk.Now().Add(10 * time.Second))
	if err := allow(t, l, Read, "one-too-many", "read", told{}); err != nil {
		t.Errorf("after the budgets refilled: %v", err)
	}
}

// told keeps what decisions told of each budget, the last word for each,
// as the headers of a client's answers do.
type told map[Budget]string

// allow is l.Allow with the budgets recorded in h, and a refusal's
// throttled error.
func allow(t *testing.T, l *Limiter, kind Kind, subscription, action string, h told) *errdefs.Error {
	t.Helper()
	d, err := l.Allow(kind, subscription, action)
	for _, left := range d.Left {
		h[left.Budget] = strconv.Itoa(left.Count)
	}
	if err == nil {
		return nil
	}
	var r *Refusal
	if !errors.As(err, &r) || len(r.Decision.Left) != len(d.Left) {
		t.Fatalf("refusal %v is not a *Refusal with the decision", err)
	}
	return r.Err
}
