package pods

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

var t0 = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)

func specPod(policy corev1.RestartPolicy, inits ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"},
		Spec:       corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "app", Image: "hello"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		}},
	}
	for _, name := range inits {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: name, Image: "busybox"})
	}
	return pod
}

func ctr(name string, state backend.State, code int32) backend.ContainerState {
	c := backend.ContainerState{Name: name, State: state, ExitCode: code, StartedAt: t0, ImageID: "img", ContainerID: "cid"}
	switch state {
	case backend.Running:
		c.Ready = true
	case backend.Terminated:
		c.FinishedAt, c.Reason = t0.Add(time.Second), "Completed"
		if code != 0 {
			c.Reason = "Error"
		}
	case backend.Waiting:
		c.Reason = "ContainerCreating"
	}
	return c
}

func condition(st corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func TestComputeStatusPhases(t *testing.T) {
	crashLooping := ctr("app", backend.Waiting, 0)
	crashLooping.Reason = "CrashLoopBackOff"
	last := ctr("app", backend.Terminated, 1)
	crashLooping.Last = &last
	tests := []struct {
		name      string
		pod       *corev1.Pod
		state     *backend.PodState
		failure   *podFailure
		wantPhase corev1.PodPhase
		wantReady corev1.ConditionStatus
		wantWait  string // waiting reason of the container, if any
	}{
		{"not created yet", specPod(corev1.RestartPolicyAlways), nil, nil, corev1.PodPending, corev1.ConditionFalse, "ContainerCreating"},
		{"creating", specPod(corev1.RestartPolicyAlways), &backend.PodState{Containers: []backend.ContainerState{ctr("app", backend.Waiting, 0)}}, nil, corev1.PodPending, corev1.ConditionFalse, "ContainerCreating"},
		{"running", specPod(corev1.RestartPolicyAlways), &backend.PodState{IP: "10.241.0.2", Containers: []backend.ContainerState{ctr("app", backend.Running, 0)}}, nil, corev1.PodRunning, corev1.ConditionTrue, ""},
		{"init running", specPod(corev1.RestartPolicyAlways, "init"), &backend.PodState{InitContainers: []backend.ContainerState{ctr("init", backend.Running, 0)}, Containers: []backend.ContainerState{ctr("app", backend.Waiting, 0)}}, nil, corev1.PodPending, corev1.ConditionFalse, "PodInitializing"},
		{"init retried, Always", specPod(corev1.RestartPolicyAlways, "init"), &backend.PodState{InitContainers: []backend.ContainerState{ctr("init", backend.Terminated, 1)}, Containers: []backend.ContainerState{ctr("app", backend.Waiting, 0)}}, nil, corev1.PodPending, corev1.ConditionFalse, "PodInitializing"},
		{"init failed, Never, app reported", specPod(corev1.RestartPolicyNever, "init"), &backend.PodState{InitContainers: []backend.ContainerState{ctr("init", backend.Terminated, 3)}, Containers: []backend.ContainerState{ctr("app", backend.Waiting, 0)}}, nil, corev1.PodFailed, corev1.ConditionFalse, "PodInitializing"},
		{"init failed, Never", specPod(corev1.RestartPolicyNever, "init"), &backend.PodState{InitContainers: []backend.ContainerState{ctr("init", backend.Terminated, 3)}}, nil, corev1.PodFailed, corev1.ConditionFalse, "PodInitializing"},
		{"crash loop", specPod(corev1.RestartPolicyAlways), &backend.PodState{Containers: []backend.ContainerState{crashLooping}}, nil, corev1.PodRunning, corev1.ConditionFalse, "CrashLoopBackOff"},
		{"completed, Never", specPod(corev1.RestartPolicyNever), &backend.PodState{Containers: []backend.ContainerState{ctr("app", backend.Terminated, 0)}}, nil, corev1.PodSucceeded, corev1.ConditionFalse, ""},
		{"failed, Never", specPod(corev1.RestartPolicyNever), &backend.PodState{Containers: []backend.ContainerState{ctr("app", backend.Terminated, 2)}}, nil, corev1.PodFailed, corev1.ConditionFalse, ""},
		{"failed, OnFailure restarts", specPod(corev1.RestartPolicyOnFailure), &backend.PodState{Containers: []backend.ContainerState{ctr("app", backend.Terminated, 2)}}, nil, corev1.PodRunning, corev1.ConditionFalse, ""},
		{"backend refused, Always", specPod(corev1.RestartPolicyAlways), nil, &podFailure{Reason: backend.ReasonProviderFailed, Message: "quota"}, corev1.PodPending, corev1.ConditionFalse, "ContainerCreating"},
		{"backend refused, Never", specPod(corev1.RestartPolicyNever), nil, &podFailure{Reason: backend.ReasonProviderFailed, Message: "bad", Terminal: true}, corev1.PodFailed, corev1.ConditionFalse, "ContainerCreating"},
		{"missing secret", specPod(corev1.RestartPolicyAlways), nil, &podFailure{Reason: backend.ReasonCreateContainerConfigError, Message: `secret "s" not found`, Config: true}, corev1.PodPending, corev1.ConditionFalse, "CreateContainerConfigError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := computeStatus(statusInput{pod: tc.pod, state: tc.state, failure: tc.failure, hostIP: "192.0.2.2", now: t0})
			if st.Phase != tc.wantPhase {
				t.Errorf("phase %s, want %s", st.Phase, tc.wantPhase)
			}
			if got := condition(st, corev1.PodReady).Status; got != tc.wantReady {
				t.Errorf("Ready %s, want %s", got, tc.wantReady)
			}
			if condition(st, corev1.PodScheduled).Status != corev1.ConditionTrue {
				t.Error("the scheduler's PodScheduled condition was lost")
			}
			var wait string
			if w := st.ContainerStatuses[0].State.Waiting; w != nil {
				wait = w.Reason
			}
			if tc.wantWait != "" && wait != tc.wantWait {
				t.Errorf("waiting reason %q, want %q", wait, tc.wantWait)
			}
			if st.HostIP != "192.0.2.2" || len(st.HostIPs) != 1 {
				t.Errorf("host IP %q %v", st.HostIP, st.HostIPs)
			}
		})
	}
}

func TestComputeStatusDetails(t *testing.T) {
	pod := specPod(corev1.RestartPolicyAlways, "init")
	state := &backend.PodState{
		IP: "10.241.0.7", StartTime: t0,
		InitContainers: []backend.ContainerState{ctr("init", backend.Terminated, 0)},
		Containers:     []backend.ContainerState{ctr("app", backend.Running, 0)},
	}
	st := computeStatus(statusInput{pod: pod, state: state, now: t0.Add(time.Minute)})
	if st.PodIP != "10.241.0.7" || st.PodIPs[0].IP != "10.241.0.7" || !st.StartTime.Time.Equal(t0) {
		t.Errorf("IP %s, start %v", st.PodIP, st.StartTime)
	}
	if st.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("QoS %s", st.QOSClass)
	}
	init := st.InitContainerStatuses[0]
	if !init.Ready || init.State.Terminated == nil || init.State.Terminated.Reason != "Completed" {
		t.Errorf("init status %+v", init)
	}
	app := st.ContainerStatuses[0]
	if !app.Ready || app.State.Running == nil || *app.Started != true || app.ImageID != "img" || app.ContainerID != "cid" || app.Image != "hello" {
		t.Errorf("container status %+v", app)
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if condition(st, ct).Status != corev1.ConditionTrue {
			t.Errorf("%s is not True", ct)
		}
	}

	// Computing again from the written status changes nothing: status is
	// written only when something changed.
	pod.Status = st
	again := computeStatus(statusInput{pod: pod, state: state, now: t0.Add(2 * time.Minute)})
	if !equalStatus(st, again) {
		t.Errorf("status changed on recomputation:\n%+v\n%+v", st, again)
	}
}

func TestReadinessGatesHoldReady(t *testing.T) {
	pod := specPod(corev1.RestartPolicyAlways)
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	state := &backend.PodState{Containers: []backend.ContainerState{ctr("app", backend.Running, 0)}}
	st := computeStatus(statusInput{pod: pod, state: state, now: t0})
	if condition(st, corev1.PodReady).Status != corev1.ConditionFalse || condition(st, corev1.ContainersReady).Status != corev1.ConditionTrue {
		t.Errorf("conditions %+v", st.Conditions)
	}
}

func TestQOSClass(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{}
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req), corev1.ResourceMemory: resource.MustParse(req + "Mi")}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim), corev1.ResourceMemory: resource.MustParse(lim + "Mi")}
		}
		return r
	}
	for _, tc := range []struct {
		r    corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{res("", ""), corev1.PodQOSBestEffort},
		{res("1", "1"), corev1.PodQOSGuaranteed},
		{res("", "1"), corev1.PodQOSGuaranteed},
		{res("1", "2"), corev1.PodQOSBurstable},
		{res("1", ""), corev1.PodQOSBurstable},
	} {
		pod := specPod(corev1.RestartPolicyAlways)
		pod.Spec.Containers[0].Resources = tc.r
		if got := qosClass(pod); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.r, got, tc.want)
		}
	}
}

// A running container whose startup probe has not succeeded has not
// started and is not ready, whatever its readiness says.
func TestStartupPending(t *testing.T) {
	pod := specPod(corev1.RestartPolicyAlways)
	app := ctr("app", backend.Running, 0)
	app.Ready, app.StartupPending = true, true
	st := computeStatus(statusInput{pod: pod, state: &backend.PodState{IP: "10.241.0.7", Containers: []backend.ContainerState{app}}, now: t0})
	if cs := st.ContainerStatuses[0]; cs.Started == nil || *cs.Started || cs.Ready {
		t.Errorf("pending startup: started %v ready %v", cs.Started, cs.Ready)
	}
	if condition(st, corev1.PodReady).Status != corev1.ConditionFalse {
		t.Error("the pod is ready before its container started")
	}
	app.StartupPending = false
	st = computeStatus(statusInput{pod: pod, state: &backend.PodState{IP: "10.241.0.7", Containers: []backend.ContainerState{app}}, now: t0})
	if cs := st.ContainerStatuses[0]; !*cs.Started || !cs.Ready {
		t.Errorf("started: started %v ready %v", *cs.Started, cs.Ready)
	}
}
