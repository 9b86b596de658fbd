package aci

import (
	"math"
	"testing"
	"time"
)

// A grace period goes to the service in the whole seconds it takes: a
// pod's terminationGracePeriodSeconds above the service's limit is sent as
// the limit, not refused by it, so the pod can still be deleted.
func TestGraceSeconds(t *testing.T) {
	for _, tc := range []struct {
		grace time.Duration
		want  int64
	}{
		{0, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{30 * time.Second, 30},
		{3600 * time.Second, 3600},
		{7200 * time.Second, 3600},
		{time.Duration(math.MaxInt64), 3600},
		{-time.Second, 1},
	} {
		if got := graceSeconds(tc.grace); got != tc.want {
			t.Errorf("graceSeconds(%s) = %d, want %d", tc.grace, got, tc.want)
		}
	}
}
