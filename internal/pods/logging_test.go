package pods

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
)

// syncBuffer is a buffer that the controller's goroutines may write to
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

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
	var logs syncBuffer
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
