package pods

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/sysctl"
)

// sync brings the backend and the pod's status in line with the pod.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // malformed keys are dropped, not retried
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.syncGone(ctx, key)
	}
	if err != nil {
		return err
	}
	c.cfg.Metrics.seen(pod.UID, c.cfg.Clock.Now())
	if old, ok := c.boundUID(key); ok && old != pod.UID {
		// A new pod took the name of one whose workload may still run:
		// the workload is stopped while its record says it exists, then
		// the old pod is forgotten. The backend's last pushes for it make
		// a record that the garbage collection forgets.
		if err := c.deleteWorkload(ctx, old, 0); err != nil {
			return err
		}
		c.forget(old)
	}
	st := c.bind(key, pod.UID)

	if pod.DeletionTimestamp != nil {
		return c.syncDeleting(ctx, pod, st)
	}
	if isDaemonSetPod(pod) {
		return c.refuse(ctx, pod, "DaemonSetNotSupported",
			"virtual nodes do not run DaemonSet pods: the node has no host to run them on")
	}
	if st == nil && isTerminal(pod) {
		// A finished pod the backend no longer runs keeps the status it
		// ended with (after a restart of the agent, say).
		return nil
	}
	if st == nil {
		if err := admitSysctls(pod); err != nil {
			return c.refuse(ctx, pod, sysctl.ForbiddenReason, err.Error())
		}
	}
	c.refs.track(pod, key)
	if failed, err := c.activeDeadline(ctx, key, pod, st); failed {
		// Past its deadline, the pod is neither created, updated nor
		// refreshed any more: it fails, and its containers stop.
		return errors.Join(err, c.writeStatus(ctx, pod, st))
	}
	if st == nil {
		// A failed create is still reported on the pod before it is retried.
		createErr := c.create(ctx, pod)
		st, awaiting := c.state(pod.UID)
		if createErr == nil && awaiting {
			// The backend's first push queues the pod again: writing the
			// placeholder now would spend an API write that the push's
			// status makes moot, on the busiest path of a burst.
			return nil
		}
		if err := c.writeStatus(ctx, pod, st); err != nil {
			return errors.Join(createErr, err)
		}
		return createErr
	}
	if err := c.updateInPlace(ctx, pod, st); err != nil {
		return err
	}
	// A refresh that must be retried (the group is busy) does not hold
	// back the status.
	refreshErr := c.refreshVolumes(ctx, key, pod)
	if err := c.writeStatus(ctx, pod, st); err != nil {
		return errors.Join(refreshErr, err)
	}
	return refreshErr
}

// syncGone handles a pod that has left the API: its workload, if any, is
// killed at once (the pod was force-deleted or its deletion completed).
func (c *Controller) syncGone(ctx context.Context, key string) error {
	uid, ok := c.boundUID(key)
	if !ok {
		return nil
	}
	if err := c.deleteWorkload(ctx, uid, 0); err != nil {
		return err
	}
	c.forget(uid)
	return nil
}

// deleteWorkload asks the backend to stop the workload of uid if it runs
// one and the request has not been made yet.
func (c *Controller) deleteWorkload(ctx context.Context, uid types.UID, grace time.Duration) error {
	if !c.toDelete(uid) {
		return nil
	}
	if err := c.cfg.Backend.Delete(ctx, uid, grace); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("delete workload %s: %w", uid, err)
	}
	c.markDeleting(uid)
	return nil
}

// syncDeleting stops the workload with the pod's grace period and, as soon
// as every container has terminated, deletes the pod from the API (grace
// 0, UID precondition: a new pod may already have the name).
func (c *Controller) syncDeleting(ctx context.Context, pod *corev1.Pod, st *backend.PodState) error {
	if st != nil && !st.AllTerminated() {
		grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, corev1.DefaultTerminationGracePeriodSeconds)) * time.Second
		return c.deleteWorkload(ctx, pod.UID, grace)
	}
	err := c.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod: %w", err)
	}
	c.cfg.Metrics.observeDeleted(pod)
	return nil
}

// create resolves the pod and creates its workload. Configuration errors
// and backend failures are written to the pod's status; retryable ones
// are returned so the pod is retried with back-off.
func (c *Controller) create(ctx context.Context, pod *corev1.Pod) error {
	w, err := c.resolver.workload(ctx, pod)
	if err != nil {
		if msg, ok := configMessage(err); ok {
			return c.configFailure(pod, msg, err)
		}
		return err
	}
	err = c.cfg.Backend.Create(ctx, w)
	if msg, ok := configMessage(err); ok {
		return c.configFailure(pod, msg, err) // a reference the backend found wanting
	}
	if err == nil {
		c.clearFailure(pod.UID)
		c.created(pod, hashFiles(w.Volumes))
		return nil
	}
	retryable := errors.Is(err, backend.ErrRetryable) || errors.Is(err, context.DeadlineExceeded)
	terminal := errors.Is(err, backend.ErrUnsatisfiable) || !retryable && pod.Spec.RestartPolicy == corev1.RestartPolicyNever
	c.setFailure(pod, &podFailure{Reason: backend.ReasonProviderFailed, Message: err.Error(), Terminal: terminal},
		backend.ReasonProviderFailed, err.Error())
	if terminal {
		return nil
	}
	return fmt.Errorf("create workload of %s/%s: %w", pod.Namespace, pod.Name, err)
}

// configFailure records a configuration error of the pod: its containers
// wait with CreateContainerConfigError. The reference watch requeues the
// pod when the object appears; the back-off of the error returned is a
// safety net.
func (c *Controller) configFailure(pod *corev1.Pod, message string, err error) error {
	c.setFailure(pod, &podFailure{Reason: backend.ReasonCreateContainerConfigError, Message: message, Config: true},
		backend.EventFailed, "Error: "+message)
	return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
}

// placeholderState stands for a workload the backend accepted but has not
// reported yet, so that a deletion arriving first is passed on.
func placeholderState(pod *corev1.Pod) *backend.PodState {
	st := &backend.PodState{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name}
	for _, ctr := range pod.Spec.Containers {
		st.Containers = append(st.Containers, backend.ContainerState{Name: ctr.Name, State: backend.Waiting, Reason: backend.ReasonContainerCreating})
	}
	return st
}

// setFailure records why the pod does not run and emits a Warning event
// when the reason is new.
func (c *Controller) setFailure(pod *corev1.Pod, f *podFailure, eventReason, eventMessage string) {
	if prev := c.swapFailure(pod, f); prev == nil || prev.Message != f.Message {
		c.cfg.Recorder.Event(pod, corev1.EventTypeWarning, eventReason, eventMessage)
	}
}

// updateInPlace passes changed container images to the backend.
func (c *Controller) updateInPlace(ctx context.Context, pod *corev1.Pod, st *backend.PodState) error {
	changed := false
	for i, ctr := range pod.Spec.Containers {
		if i < len(st.Containers) && st.Containers[i].Image != "" && st.Containers[i].Image != ctr.Image {
			changed = true
		}
	}
	if !changed || isTerminal(pod) {
		return nil
	}
	w, err := c.resolver.workload(ctx, pod)
	if err != nil {
		return err
	}
	if err := c.cfg.Backend.Update(ctx, w); err != nil {
		if errors.Is(err, backend.ErrNotSupported) {
			c.cfg.Recorder.Event(pod, corev1.EventTypeWarning, "UpdateRefused", err.Error())
			return nil
		}
		return fmt.Errorf("update workload: %w", err)
	}
	return nil
}

// admitSysctls admits the pod's sysctls as the kubelet does before it
// runs a pod: only the safe ones, and none of a namespace the pod shares
// with the host. The error is the pod's message.
func admitSysctls(pod *corev1.Pod) error {
	sc := pod.Spec.SecurityContext
	if sc == nil {
		return nil
	}
	for _, s := range sc.Sysctls {
		if err := sysctl.Admit(s.Name, pod.Spec.HostNetwork, pod.Spec.HostIPC); err != nil {
			return err
		}
	}
	return nil
}

// refuse fails a pod that the node will never run.
func (c *Controller) refuse(ctx context.Context, pod *corev1.Pod, reason, message string) error {
	if isTerminal(pod) {
		return nil
	}
	c.cfg.Recorder.Event(pod, corev1.EventTypeWarning, reason, message)
	status := pod.Status.DeepCopy()
	status.Phase, status.Reason, status.Message = corev1.PodFailed, reason, message
	updated := pod.DeepCopy()
	updated.Status = *status
	if _, err := c.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("refuse pod: %w", err)
	}
	return nil
}

// writeStatus computes the pod's status and writes it only when it
// differs from what the informer holds.
func (c *Controller) writeStatus(ctx context.Context, pod *corev1.Pod, st *backend.PodState) error {
	now := c.cfg.Clock.Now()
	status := computeStatus(statusInput{pod: pod, state: st, failure: c.failure(pod.UID), hostIP: c.cfg.HostIP, now: now})
	if equality.Semantic.DeepEqual(status, pod.Status) {
		return nil
	}
	updated := pod.DeepCopy()
	updated.Status = status
	_, err := c.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		// The informer will deliver the newer pod and queue it again.
		return nil
	case err != nil:
		return fmt.Errorf("update status: %w", err)
	}
	c.cfg.Metrics.observeStatus(pod, &status, now)
	if status.Phase != pod.Status.Phase {
		c.log.Debug("pod phase changed", "pod", pod.Namespace+"/"+pod.Name, "uid", pod.UID, "from", pod.Status.Phase, "to", status.Phase)
	}
	return nil
}

func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func isDaemonSetPod(pod *corev1.Pod) bool {
	ref := metav1.GetControllerOf(pod)
	return ref != nil && ref.Kind == "DaemonSet" && ref.APIVersion == "apps/v1"
}
