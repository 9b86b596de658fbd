package pods

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
	"github.com/vnode-io/vnode/internal/syncbuf"
)

// The controller logs to the logger it is given, with the pod's key.
func TestControllerLogsToItsLogger(t *testing.T) {
	b, _ := memory.New(memory.Config{})
	failed := false
	b.SetCreateHook(func(*backend.Workload) error {
		if !failed {
			failed = true
			return backend.ErrRetryable
		}
		return nil
	})
	var logs syncbuf.Buffer
	f := newFixtureWith(t, b, func(c *ControllerConfig) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }, newPod("flaky"))
	f.run()
	f.waitPod("flaky", "Running", running)
	waitFor(t, "the retry in the log", func() bool {
		return strings.Contains(logs.String(), `msg="pod sync failed; retrying" pod=ns/flaky`)
	})
	if !strings.Contains(logs.String(), `msg="pod controller started" node=vn`) {
		t.Errorf("log:\n%s", logs.String())
	}
}
