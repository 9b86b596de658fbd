package pods

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/backend"
)

// podRecord is what the controller keeps about one pod, or about one
// workload the backend runs, by UID. Its fields are guarded by
// Controller.mu.
type podRecord struct {
	// key is the pod's namespace/name.
	key string
	// state is the last state the backend pushed for the workload; a
	// workload created but not yet reported has a placeholder, and nil
	// means the backend runs nothing known for the pod.
	state *backend.PodState
	// deleting records that the workload's deletion was asked of the
	// backend.
	deleting bool
	// stopped records that the backend was asked to stop the workload's
	// containers and keep it (a pod past its deadline); the workload is
	// still deleted with the pod.
	stopped bool
	// pastDeadline records that the pod's active deadline passed (and its
	// event was emitted); its failure is recorded once the workload runs
	// nothing any more.
	pastDeadline bool
	// awaitingPush marks a workload created but not yet reported.
	awaitingPush bool
	// failure holds why the pod's workload could not be created.
	failure *podFailure
	// volumeHash identifies the volume files the workload was last given
	// (see refreshVolumes); empty when unknown.
	volumeHash string
}

// recordLocked returns the record of uid, making one for key if there is
// none. c.mu must be held.
func (c *Controller) recordLocked(uid types.UID, key string) *podRecord {
	rec, ok := c.records[uid]
	if !ok {
		rec = &podRecord{key: key}
		c.records[uid] = rec
	}
	return rec
}

func (c *Controller) podRecordLocked(pod *corev1.Pod) *podRecord {
	return c.recordLocked(pod.UID, pod.Namespace+"/"+pod.Name)
}

// boundUID returns the UID last seen with key.
func (c *Controller) boundUID(key string) (types.UID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid, ok := c.byKey[key]
	return uid, ok
}

// bind records uid as the pod called key and returns its workload's state.
func (c *Controller) bind(key string, uid types.UID) *backend.PodState {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byKey[key] = uid
	return c.recordLocked(uid, key).state
}

// state returns the state of uid's workload and whether the backend has
// yet to report it.
func (c *Controller) state(uid types.UID) (st *backend.PodState, awaitingPush bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec, ok := c.records[uid]; ok {
		return rec.state, rec.awaitingPush
	}
	return nil, false
}

// stateCount is how many workloads have a state.
func (c *Controller) stateCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, rec := range c.records {
		if rec.state != nil {
			n++
		}
	}
	return n
}

// created records the workload the backend accepted for pod, with the
// hash of its volume files, standing in for its state until the backend
// reports it.
func (c *Controller) created(pod *corev1.Pod, volumeHash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.podRecordLocked(pod)
	rec.volumeHash = volumeHash
	if rec.state == nil {
		rec.state, rec.awaitingPush = placeholderState(pod), true
	}
}

// toDelete reports whether uid has a workload whose deletion has not been
// asked for yet.
func (c *Controller) toDelete(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.records[uid]
	return ok && rec.state != nil && !rec.deleting
}

// markDeleting records that the deletion of uid's workload was asked for.
func (c *Controller) markDeleting(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec, ok := c.records[uid]; ok {
		rec.deleting = true
	}
}

// toStop reports whether uid has a workload that was asked neither to stop
// nor to go.
func (c *Controller) toStop(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.records[uid]
	return ok && rec.state != nil && !rec.deleting && !rec.stopped
}

// passDeadline records that pod's active deadline passed and reports
// whether that is news.
func (c *Controller) passDeadline(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.podRecordLocked(pod)
	news := !rec.pastDeadline
	rec.pastDeadline = true
	return news
}

// stopAsked reports whether the backend was asked to stop or delete uid's
// workload: none of its containers starts again.
func (c *Controller) stopAsked(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.records[uid]
	return ok && (rec.stopped || rec.deleting)
}

// markStopped records that the stop of uid's workload was asked for.
func (c *Controller) markStopped(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec, ok := c.records[uid]; ok {
		rec.stopped = true
	}
}

// swapFailure records why pod does not run and returns the previous
// reason.
func (c *Controller) swapFailure(pod *corev1.Pod, f *podFailure) (prev *podFailure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.podRecordLocked(pod)
	prev, rec.failure = rec.failure, f
	return prev
}

func (c *Controller) clearFailure(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec, ok := c.records[uid]; ok {
		rec.failure = nil
	}
}

func (c *Controller) failure(uid types.UID) *podFailure {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec, ok := c.records[uid]; ok {
		return rec.failure
	}
	return nil
}

// volumeHash returns the hash of the volume files uid's workload was last
// given; empty when unknown.
func (c *Controller) volumeHash(uid types.UID) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec, ok := c.records[uid]; ok {
		return rec.volumeHash
	}
	return ""
}

func (c *Controller) setVolumeHash(pod *corev1.Pod, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.podRecordLocked(pod).volumeHash = sum
}

// forget releases everything kept for the pod or workload uid: its record,
// the key's entry if it still names uid, the watches of the objects it
// references, its tokens and its metrics. A later push of the backend for
// uid makes a new record, which no key names and which the garbage
// collection forgets once the backend no longer runs the workload.
func (c *Controller) forget(uid types.UID) {
	c.mu.Lock()
	if rec, ok := c.records[uid]; ok {
		if c.byKey[rec.key] == uid {
			delete(c.byKey, rec.key)
		}
		delete(c.records, uid)
	}
	c.mu.Unlock()
	c.refs.forget(uid)
	if c.resolver.tokens != nil {
		c.resolver.tokens.forget(uid)
	}
	c.cfg.Metrics.forget(uid)
}
