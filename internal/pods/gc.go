package pods

import (
	"context"
	"log/slog"

	"k8s.io/apimachinery/pkg/types"
)

// runGC deletes, every GCInterval, the backend workloads whose pod no
// longer exists (after OrphanGrace, so creates in flight are spared), and
// drops states kept for pods that are gone.
func (c *Controller) runGC(ctx context.Context) {
	c.every(ctx, c.cfg.GCInterval, func() { c.collect(ctx) })
}

// collect runs one garbage collection.
func (c *Controller) collect(ctx context.Context) {
	running, err := c.cfg.Backend.List(ctx)
	if err != nil {
		slog.Warn("garbage collection: list the backend's workloads", "err", err)
		return
	}
	now := c.cfg.Clock.Now()
	inBackend := map[types.UID]bool{}
	for _, st := range running {
		inBackend[st.UID] = true
		if c.podExists(st.UID) || now.Sub(st.StartTime) < c.cfg.OrphanGrace {
			continue
		}
		slog.Info("deleting orphaned workload", "uid", st.UID, "pod", st.Namespace+"/"+st.Name)
		if err := c.cfg.Backend.Delete(ctx, st.UID, 0); err != nil {
			slog.Warn("delete orphaned workload", "uid", st.UID, "err", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for uid := range c.states {
		if !inBackend[uid] && !c.podExists(uid) {
			delete(c.states, uid)
			delete(c.deleting, uid)
			delete(c.failures, uid)
			delete(c.awaitingPush, uid)
		}
	}
}

func (c *Controller) podExists(uid types.UID) bool {
	objs, err := c.podIndex.ByIndex(uidIndex, string(uid))
	return err == nil && len(objs) > 0
}
