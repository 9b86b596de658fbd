package pods

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
)

// Pod condition reasons the kubelet uses; container reasons are the
// backend package's.
const (
	reasonContainersNotReady = "ContainersNotReady"
	reasonContainersNotInit  = "ContainersNotInitialized"
	reasonPodCompleted       = "PodCompleted"
	conditionReadyToStart    = corev1.PodReadyToStartContainers
	conditionInitialized     = corev1.PodInitialized
	conditionContainersReady = corev1.ContainersReady
	conditionReady           = corev1.PodReady
)

// statusInput is everything a pod's status depends on.
type statusInput struct {
	pod   *corev1.Pod
	state *backend.PodState // nil: the backend runs nothing for the pod
	// failure, when set, is why the workload could not be created (or
	// configured); it makes the pod ProviderFailed or leaves containers
	// waiting with its reason.
	failure *podFailure
	hostIP  string
	now     time.Time
}

// podFailure describes why a pod's workload does not run.
type podFailure struct {
	// Reason is the pod's reason (ProviderFailed) or, for configuration
	// errors, the containers' waiting reason (CreateContainerConfigError).
	Reason  string
	Message string
	// Terminal makes the pod Failed.
	Terminal bool
	// Config marks an error in the pod's references rather than the backend.
	Config bool
}

// computeStatus returns the pod's status as the kubelet would write it. It
// is a pure function of its input; fields the agent does not own (the
// PodScheduled condition, nominated node, resize status) are kept.
func computeStatus(in statusInput) corev1.PodStatus {
	pod, st := in.pod, in.state
	out := *pod.Status.DeepCopy()
	out.HostIP = in.hostIP
	out.HostIPs = nil
	if in.hostIP != "" {
		out.HostIPs = []corev1.HostIP{{IP: in.hostIP}}
	}
	if out.QOSClass == "" {
		out.QOSClass = qosClass(pod)
	}
	out.Reason, out.Message = "", ""
	if st != nil {
		if out.StartTime == nil && !st.StartTime.IsZero() {
			out.StartTime = ptr.To(metav1.NewTime(st.StartTime))
		}
		out.PodIP, out.PodIPs = st.IP, nil
		if st.IP != "" {
			out.PodIPs = []corev1.PodIP{{IP: st.IP}}
		}
	} else if out.StartTime == nil {
		out.StartTime = ptr.To(metav1.NewTime(in.now))
	}
	out.InitContainerStatuses = containerStatuses(pod.Spec.InitContainers, stateContainers(st, true), in.failure, backend.ReasonPodInitializing, true, pod.Status.InitContainerStatuses)
	pendingReason := backend.ReasonContainerCreating
	for _, c := range out.InitContainerStatuses {
		if !c.Ready {
			pendingReason = backend.ReasonPodInitializing
		}
	}
	out.ContainerStatuses = containerStatuses(pod.Spec.Containers, stateContainers(st, false), in.failure, pendingReason, false, pod.Status.ContainerStatuses)
	out.Phase = phase(pod, st, in.failure, out.InitContainerStatuses, out.ContainerStatuses)
	if f := in.failure; f != nil && !f.Config {
		out.Reason, out.Message = f.Reason, f.Message
	}
	if st != nil && st.Failed {
		out.Reason, out.Message = backend.ReasonProviderFailed, st.Message
	}
	out.Conditions = conditions(pod, st, &out, metav1.NewTime(in.now))
	return out
}

func stateContainers(st *backend.PodState, init bool) []backend.ContainerState {
	switch {
	case st == nil:
		return nil
	case init:
		return st.InitContainers
	default:
		return st.Containers
	}
}

// containerStatuses maps the backend's container states onto the spec's
// containers, in spec order; a container the backend has not reported
// waits with pendingReason.
func containerStatuses(spec []corev1.Container, states []backend.ContainerState, failure *podFailure, pendingReason string, init bool, previous []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(spec) == 0 {
		return nil
	}
	byName := map[string]backend.ContainerState{}
	for _, s := range states {
		byName[s.Name] = s
	}
	out := make([]corev1.ContainerStatus, 0, len(spec))
	for _, c := range spec {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		s, ok := byName[c.Name]
		switch {
		case !ok && failure != nil:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: waitingReason(failure), Message: failure.Message}
		case !ok:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: pendingReason}
		default:
			cs.State = containerState(s)
			// Until the init containers have succeeded the containers
			// wait as PodInitializing, whatever the backend calls it.
			if w := cs.State.Waiting; w != nil && !init && pendingReason == backend.ReasonPodInitializing &&
				w.Reason == backend.ReasonContainerCreating {
				w.Reason = backend.ReasonPodInitializing
			}
			if s.Last != nil {
				cs.LastTerminationState = containerState(*s.Last)
			}
			cs.Ready = s.Ready && s.State == backend.Running
			if init {
				cs.Ready = s.State == backend.Terminated && s.ExitCode == 0
			}
			cs.Started = ptr.To(s.State == backend.Running && !s.StartupPending)
			cs.Ready = cs.Ready && !s.StartupPending
			cs.RestartCount = s.RestartCount
			cs.ImageID, cs.ContainerID = s.ImageID, s.ContainerID
		}
		// An image the backend has not reported keeps the one last written.
		for _, p := range previous {
			if p.Name == c.Name && cs.ImageID == "" {
				cs.ImageID = p.ImageID
			}
		}
		out = append(out, cs)
	}
	return out
}

func waitingReason(f *podFailure) string {
	if f.Config {
		return f.Reason
	}
	return backend.ReasonContainerCreating
}

func containerState(s backend.ContainerState) corev1.ContainerState {
	switch s.State {
	case backend.Running:
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(s.StartedAt)}}
	case backend.Terminated:
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: s.ExitCode, Reason: s.Reason, Message: s.Message,
			StartedAt: metav1.NewTime(s.StartedAt), FinishedAt: metav1.NewTime(s.FinishedAt),
			ContainerID: s.ContainerID,
		}}
	default:
		reason := s.Reason
		if reason == "" {
			reason = backend.ReasonContainerCreating
		}
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: s.Message}}
	}
}

// phase follows the kubelet's rules (getPhase): Pending until the init
// containers have succeeded and a container runs, then Running, and
// Succeeded or Failed once every container has exited for good.
func phase(pod *corev1.Pod, st *backend.PodState, failure *podFailure, inits, containers []corev1.ContainerStatus) corev1.PodPhase {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return pod.Status.Phase // terminal phases never change
	}
	if failure != nil && failure.Terminal {
		return corev1.PodFailed
	}
	if st == nil {
		return corev1.PodPending
	}
	if st.Failed {
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodPending
	}
	policy := pod.Spec.RestartPolicy
	for _, c := range inits {
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
		case c.State.Terminated != nil && policy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		default:
			return corev1.PodPending
		}
	}
	var running, waiting, restarting, succeeded, failed int
	for _, c := range containers {
		switch {
		case c.State.Running != nil:
			running++
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			succeeded++
		case c.State.Terminated != nil:
			failed++
		case c.LastTerminationState.Terminated != nil:
			restarting++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0 || restarting > 0:
		return corev1.PodRunning
	case policy == corev1.RestartPolicyAlways || policy == "":
		return corev1.PodRunning // about to restart
	case failed > 0 && policy == corev1.RestartPolicyOnFailure:
		return corev1.PodRunning
	case failed > 0:
		return corev1.PodFailed
	default:
		return corev1.PodSucceeded
	}
}

// conditions computes the agent's four conditions and keeps the others.
func conditions(pod *corev1.Pod, st *backend.PodState, status *corev1.PodStatus, now metav1.Time) []corev1.PodCondition {
	terminal := status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed
	ready := func(reason, msg string) (corev1.ConditionStatus, string, string) {
		if reason == "" {
			return corev1.ConditionTrue, "", ""
		}
		return corev1.ConditionFalse, reason, msg
	}
	var notInit, notReady []string
	for _, c := range status.InitContainerStatuses {
		if !c.Ready {
			notInit = append(notInit, c.Name)
		}
	}
	for _, c := range status.ContainerStatuses {
		if !c.Ready {
			notReady = append(notReady, c.Name)
		}
	}
	initReason, initMsg := "", ""
	if len(notInit) > 0 {
		initReason, initMsg = reasonContainersNotInit, fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " "))
	}
	crReason, crMsg := "", ""
	switch {
	case terminal:
		crReason = reasonPodCompleted
	case len(notReady) > 0:
		crReason, crMsg = reasonContainersNotReady, fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
	}
	readyReason, readyMsg := crReason, crMsg
	if readyReason == "" {
		if missing := unmetReadinessGates(pod); len(missing) > 0 {
			readyReason, readyMsg = "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", missing[0])
		}
	}
	sandbox := corev1.ConditionFalse
	if st != nil && st.IP != "" && !terminal {
		sandbox = corev1.ConditionTrue
	}
	want := []corev1.PodCondition{{Type: conditionReadyToStart, Status: sandbox}}
	for _, c := range []struct {
		t           corev1.PodConditionType
		reason, msg string
	}{{conditionInitialized, initReason, initMsg}, {conditionContainersReady, crReason, crMsg}, {conditionReady, readyReason, readyMsg}} {
		s, r, m := ready(c.reason, c.msg)
		want = append(want, corev1.PodCondition{Type: c.t, Status: s, Reason: r, Message: m})
	}
	return mergeConditions(pod.Status.Conditions, want, now)
}

// unmetReadinessGates lists readiness gates whose condition is not True.
func unmetReadinessGates(pod *corev1.Pod) []string {
	var missing []string
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			ok = ok || (c.Type == g.ConditionType && c.Status == corev1.ConditionTrue)
		}
		if !ok {
			missing = append(missing, string(g.ConditionType))
		}
	}
	return missing
}

// mergeConditions sets the wanted conditions on the existing list: a
// condition whose status is unchanged keeps its transition time; other
// conditions are kept untouched. The result is sorted by type for a
// stable comparison.
func mergeConditions(existing, want []corev1.PodCondition, now metav1.Time) []corev1.PodCondition {
	out := make([]corev1.PodCondition, 0, len(existing)+len(want))
	owned := map[corev1.PodConditionType]bool{}
	for _, w := range want {
		owned[w.Type] = true
		w.LastTransitionTime = now
		for _, e := range existing {
			if e.Type == w.Type && e.Status == w.Status {
				w.LastTransitionTime = e.LastTransitionTime
				w.LastProbeTime = e.LastProbeTime
			}
		}
		out = append(out, w)
	}
	for _, e := range existing {
		if !owned[e.Type] {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return conditionOrder(out[i].Type) < conditionOrder(out[j].Type) })
	return out
}

func conditionOrder(t corev1.PodConditionType) int {
	order := []corev1.PodConditionType{conditionReadyToStart, conditionInitialized, conditionReady, conditionContainersReady, corev1.PodScheduled}
	for i, o := range order {
		if o == t {
			return i
		}
	}
	return len(order)
}

// qosClass classifies the pod as the API server does.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	anySet, guaranteed := false, true
	for _, c := range all {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				anySet = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	default:
		return corev1.PodQOSBurstable
	}
}
