package throttle

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/config"
)

func TestCreateWindows(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	l := New(config.RateLimits{CreatesPer5m: 2, CreatesPer1h: 3}, clk)
	h := http.Header{}
	for i, want := range []string{"1", "0"} {
		if err := l.Allow(Create, "sub", "write", h); err != nil {
			t.Fatalf("create %d refused: %v", i, err)
		}
		if got := h.Get(HeaderRemaining5m); got != want {
			t.Errorf("after create %d: pt5m remaining %s, want %s", i, got, want)
		}
	}
	err := l.Allow(Create, "sub", "Microsoft.ContainerInstance/containerGroups/write", h)
	if err == nil || armerr.From(err).Status != http.StatusTooManyRequests || err.Code != "ResourceRequestsThrottled" {
		t.Fatalf("third create in 5 minutes: %v", err)
	}
	if err.RetryAfter != 5*time.Minute {
		t.Errorf("retry after %v, want 5m", err.RetryAfter)
	}
	if err := l.Allow(Create, "other", "write", http.Header{}); err != nil {
		t.Errorf("another subscription was throttled: %v", err)
	}
	if err := l.Allow(Delete, "sub", "delete", http.Header{}); err != nil {
		t.Errorf("deletes share the create budget: %v", err)
	}
	clk.SetTime(clk.Now().Add(5*time.Minute + time.Second))
	if err := l.Allow(Create, "sub", "write", h); err != nil {
		t.Fatalf("create after the 5-minute window refused: %v", err)
	}
	if got := h.Get(HeaderRemaining1h); got != "0" {
		t.Errorf("pt1h remaining %s, want 0", got)
	}
	err = l.Allow(Create, "sub", "write", h)
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
	h := http.Header{}
	for i := 0; i < 3; i++ {
		if err := l.Allow(Read, "sub", "read", h); err != nil {
			t.Fatalf("read %d refused: %v", i, err)
		}
	}
	err := l.Allow(Read, "sub", "read", h)
	if err == nil || err.Code != "SubscriptionRequestsThrottled" || err.RetryAfter != 500*time.Millisecond {
		t.Fatalf("fourth read: %+v", err)
	}
	clk.SetTime(clk.Now().Add(500 * time.Millisecond))
	if err := l.Allow(Read, "sub", "read", h); err != nil {
		t.Fatalf("read after refill refused: %v", err)
	}
	if err := l.Allow(Write, "sub", "write", h); err != nil {
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
		if err := l.Allow(Read, sub, "read", http.Header{}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if err := l.Allow(Create, sub, "write", http.Header{}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if n := len(l.buckets) + len(l.windows); n != 1000 {
		t.Fatalf("%d budgets while in use, want 1000", n)
	}
	// The buckets refill within 2 s; the windows empty after an hour.
	clk.SetTime(clk.Now().Add(2 * time.Minute))
	if err := l.Allow(Read, "active", "read", http.Header{}); err != nil {
		t.Fatal(err)
	}
	if n := len(l.buckets); n != 1 {
		t.Errorf("%d buckets after the others refilled, want 1 (the active subscription's)", n)
	}
	clk.SetTime(clk.Now().Add(time.Hour))
	if err := l.Allow(Read, "active", "read", http.Header{}); err != nil {
		t.Fatal(err)
	}
	if n := len(l.buckets) + len(l.windows); n > 1 {
		t.Errorf("%d budgets an hour later, want at most 1", n)
	}
	// A dropped budget is a fresh one: the subscription's creates count anew.
	h := http.Header{}
	if err := l.Allow(Create, "sub-0", "write", h); err != nil || h.Get(HeaderRemaining5m) != "9" {
		t.Errorf("create after the budget was dropped: %v, pt5m remaining %q, want 9", err, h.Get(HeaderRemaining5m))
	}
}

// Past MaxKeys budgets in use, a new subscription is throttled rather
// than given memory; the ones in use keep theirs.
func TestBudgetsAreBounded(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	l := New(config.RateLimits{ReadsPerSecond: 1, ReadBurst: 5}, clk)
	for i := range MaxKeys {
		if err := l.Allow(Read, fmt.Sprintf("sub-%d", i), "read", http.Header{}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	err := l.Allow(Read, "one-too-many", "read", http.Header{})
	if err == nil || armerr.From(err).Status != http.StatusTooManyRequests {
		t.Fatalf("a budget past MaxKeys: %v, want 429", err)
	}
	if n := l.Len(); n != MaxKeys {
		t.Errorf("%d budgets, want %d", n, MaxKeys)
	}
	if err := l.Allow(Read, "sub-1", "read", http.Header{}); err != nil {
		t.Errorf("a subscription in use was refused: %v", err)
	}
	clk.SetTime(clk.Now().Add(10 * time.Second))
	if err := l.Allow(Read, "one-too-many", "read", http.Header{}); err != nil {
		t.Errorf("after the budgets refilled: %v", err)
	}
}
