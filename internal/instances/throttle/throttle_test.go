package throttle

import (
	"net/http"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

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
	if err == nil || err.Status != http.StatusTooManyRequests || err.Code != "ResourceRequestsThrottled" {
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
