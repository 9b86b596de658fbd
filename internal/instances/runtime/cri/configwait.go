package cri

import (
	"errors"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// errConfigWait reports that a container was not created: its
// configuration is wanting, and it waits with CreateContainerConfigError
// until a later try succeeds.
var errConfigWait = errors.New("the container's configuration must be fixed")

// configWait records that c cannot start as configured (msg says why), as
// the kubelet does: the container waits with CreateContainerConfigError
// and the message, a Failed event repeats it, and the next try is due
// after a back-off that doubles up to backoffMax.
func (r *Runtime) configWait(g *group, c *container, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.configBackoff = nextBackoff(c.configBackoff)
	c.configRetry = r.o.Clock.Now().Add(c.configBackoff)
	c.status.Current = runtime.ContainerState{State: runtime.StateWaiting,
		DetailStatus: backend.ReasonCreateContainerConfigError, Message: msg}
	c.status.Ready = false
	g.dirty = true
	g.event(r, c.spec.Name, backend.EventFailed, "Warning", "Error: %s", msg)
	r.publish(g, false)
}

// configWaiting reports whether c waits for its configuration and has no
// CRI container. Callers hold r.mu.
func (c *container) configWaiting() bool {
	return c.id == "" && c.status.Current.State == runtime.StateWaiting &&
		c.status.Current.DetailStatus == backend.ReasonCreateContainerConfigError
}

// retryUncreated makes the poll try at once to create the containers of
// a rediscovered group that have no CRI container although its init
// containers all succeeded: the runtime stopped while they waited for
// their configuration (or before it reached them), and Run of a group
// that exists does nothing, so no one else would.
func retryUncreated(g *group, now time.Time) {
	for _, c := range g.inits {
		if c.id == "" || c.status.Current.State != runtime.StateTerminated || c.status.Current.ExitCode != 0 {
			return
		}
	}
	for _, c := range g.mains {
		if c.id == "" {
			c.status.Current = runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: backend.ReasonCreateContainerConfigError}
			c.configRetry = now
		}
	}
}
