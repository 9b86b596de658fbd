package pods

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
)

// runGC deletes, every GCInterval, the backend workloads whose pod no
// longer exists (after OrphanGrace, so creates in flight are spared), and
// forgets the pods that are gone.
func (c *Controller) runGC(ctx context.Context) {
	c.every(ctx, c.cfg.GCInterval, func() { c.collect(ctx) })
}

// collect runs one garbage collection.
func (c *Controller) collect(ctx context.Context) {
	running, err := c.cfg.Backend.List(ctx)
	if err != nil {
		c.log.Warn("garbage collection: list the backend's workloads", "err", err)
		return
	}
	now := c.cfg.Clock.Now()
	inBackend := map[types.UID]bool{}
	for _, st := range running {
		inBackend[st.UID] = true
		if c.podExists(st.UID) || now.Sub(st.StartTime) < c.cfg.OrphanGrace {
			continue
		}
		log := c.log.With("pod", st.Namespace+"/"+st.Name, "uid", st.UID)
		log.Info("deleting orphaned workload")
		if err := c.cfg.Backend.Delete(ctx, st.UID, 0); err != nil {
			log.Warn("delete orphaned workload", "err", err)
		}
	}
	// Records of pods that are gone and that the backend no longer runs:
	// those syncGone did not see (a new pod took the name) and those the
	// backend's last pushes made after the pod was forgotten.
	var gone []types.UID
	c.mu.Lock()
	for uid := range c.records {
		if !inBackend[uid] && !c.podExists(uid) {
			gone = append(gone, uid)
		}
	}
	c.mu.Unlock()
	for _, uid := range gone {
		c.forget(uid)
	}
}

func (c *Controller) podExists(uid types.UID) bool {
	objs, err := c.podIndex.ByIndex(uidIndex, string(uid))
	return err == nil && len(objs) > 0
}
