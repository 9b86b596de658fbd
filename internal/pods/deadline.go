package pods

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
)

// The kubelet's reason and message for a pod past its activeDeadlineSeconds.
const (
	reasonDeadlineExceeded  = "DeadlineExceeded"
	messageDeadlineExceeded = "Pod was active on the node longer than the specified deadline"
)

// deadlineFailure is the record's failure of a pod past its deadline whose
// containers have stopped: the pod is Failed with the kubelet's reason and
// message.
func deadlineFailure() *podFailure {
	return &podFailure{Reason: reasonDeadlineExceeded, Message: messageDeadlineExceeded, Terminal: true}
}

// activeDeadline enforces spec.activeDeadlineSeconds as the kubelet does:
// once a pod has been active longer than that since its start time, a
// Normal DeadlineExceeded event says so (once), and its workload's
// containers are stopped with the pod's termination grace period; the
// workload stays, with its containers' last states and logs, until the pod
// is deleted. As the kubelet's status manager, which never makes a pod
// terminal while its containers may run, the pod fails (phase Failed,
// reason DeadlineExceeded) once none of its containers runs any more. A pod
// whose deadline is ahead is queued again for that moment, and a change of
// the deadline (the API lets it be set or lowered on a running pod) arrives
// as an update of the pod: nothing is polled.
//
// It reports whether the pod is past its deadline, in which case the
// caller writes the status and does nothing else for the pod. Terminal
// pods are left alone, but for those that failed for their deadline: after
// an agent restart, their record learns the failure again and a workload
// not yet stopped is stopped.
func (c *Controller) activeDeadline(ctx context.Context, key string, pod *corev1.Pod, st *backend.PodState) (bool, error) {
	if isTerminal(pod) {
		if pod.Status.Reason != reasonDeadlineExceeded {
			return false, nil
		}
		if c.failure(pod.UID) == nil {
			c.swapFailure(pod, deadlineFailure())
		}
		return true, c.stopWorkload(ctx, pod)
	}
	due, ok := deadlineOf(pod, st)
	if !ok {
		return false, nil
	}
	if left := due.Sub(c.cfg.Clock.Now()); left > 0 {
		c.queue.AddAfter(key, left)
		return false, nil
	}
	if c.passDeadline(pod) {
		c.log.Info("pod exceeded its active deadline", "pod", key, "uid", pod.UID,
			"activeDeadlineSeconds", *pod.Spec.ActiveDeadlineSeconds)
		c.cfg.Recorder.Event(pod, corev1.EventTypeNormal, reasonDeadlineExceeded, messageDeadlineExceeded)
	}
	if err := c.stopWorkload(ctx, pod); err != nil {
		return true, err
	}
	// The backend pushes the containers' ends, which queue the pod again.
	if st == nil || c.stopAsked(pod.UID) && !anyRunning(st) {
		c.swapFailure(pod, deadlineFailure())
	}
	return true, nil
}

// anyRunning reports whether a container of the workload runs.
func anyRunning(st *backend.PodState) bool {
	for _, cs := range [][]backend.ContainerState{st.InitContainers, st.Containers} {
		for _, c := range cs {
			if c.State == backend.Running {
				return true
			}
		}
	}
	return false
}

// deadlineOf returns when the pod's active deadline passes: its
// activeDeadlineSeconds after its start time (the status's, else the
// backend's). ok is false for a pod without a deadline or not started.
func deadlineOf(pod *corev1.Pod, st *backend.PodState) (due time.Time, ok bool) {
	if pod.Spec.ActiveDeadlineSeconds == nil {
		return time.Time{}, false
	}
	var start time.Time
	switch {
	case pod.Status.StartTime != nil && !pod.Status.StartTime.IsZero():
		start = pod.Status.StartTime.Time
	case st != nil && !st.StartTime.IsZero():
		start = st.StartTime
	default:
		return time.Time{}, false
	}
	return start.Add(time.Duration(*pod.Spec.ActiveDeadlineSeconds) * time.Second), true
}

// stopWorkload stops, once, the containers of the pod's workload with the
// pod's termination grace period, keeping the workload until the pod is
// deleted (which deletes it as for any pod: stopping marks the record
// stopped, not deleting).
func (c *Controller) stopWorkload(ctx context.Context, pod *corev1.Pod) error {
	if !c.toStop(pod.UID) {
		return nil
	}
	grace := time.Duration(ptr.Deref(pod.Spec.TerminationGracePeriodSeconds, corev1.DefaultTerminationGracePeriodSeconds)) * time.Second
	stopper, ok := c.cfg.Backend.(backend.Stopper)
	if !ok {
		// A backend that cannot keep a stopped workload deletes it with
		// the grace period: the containers stop as they should, but their
		// last states stay only in the pod's status, and their logs go.
		return c.deleteWorkload(ctx, pod.UID, grace)
	}
	if err := stopper.Stop(ctx, pod.UID, grace); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("stop the workload of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	c.markStopped(pod.UID)
	return nil
}
