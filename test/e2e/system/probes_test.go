package system

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// condition returns the pod's condition of type ct, or nil.
func condition(p *corev1.Pod, ct corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == ct {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// waitsInitializing fails unless every container of the pod waits as
// PodInitializing and has never run.
func waitsInitializing(t *testing.T, p *corev1.Pod) {
	t.Helper()
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Waiting == nil || c.State.Waiting.Reason != "PodInitializing" || c.RestartCount != 0 ||
			c.LastTerminationState.Terminated != nil {
			t.Errorf("pod %s: container %s is %+v, want waiting as PodInitializing, never run", p.Name, c.Name, c.State)
		}
	}
}

// Init containers that fail, as the conformance tests run them: under
// Never the pod fails and its container never starts; under Always the
// failing init container is retried with its restart count rising while
// the rest waits as PodInitializing.
func TestInitContainerFailures(t *testing.T) {
	ns := namespace(t)
	never := virtualPod("init-never", shell("run1", "true"))
	never.Spec.RestartPolicy = corev1.RestartPolicyNever
	never.Spec.InitContainers = []corev1.Container{shell("init1", "true"), shell("init2", "false")}
	createPod(t, ns, never)
	always := virtualPod("init-always", corev1.Container{Name: "run1", Image: env.Regs.Images.Hello})
	always.Spec.InitContainers = []corev1.Container{shell("init1", "false"), shell("init2", "true")}
	createPod(t, ns, always)

	p := waitPod(t, ns, "init-never", "Failed", 3*time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	waitsInitializing(t, p)
	if is := p.Status.InitContainerStatuses; len(is) != 2 || is[0].State.Terminated == nil || is[0].State.Terminated.ExitCode != 0 ||
		is[1].State.Terminated == nil || is[1].State.Terminated.ExitCode == 0 || is[1].RestartCount != 0 {
		t.Errorf("init containers of init-never: %+v", is)
	}
	if c := condition(p, corev1.PodInitialized); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotInitialized" ||
		c.Message != "containers with incomplete status: [init2]" {
		t.Errorf("Initialized of init-never: %+v", c)
	}

	p = waitPod(t, ns, "init-always", "init1 retried twice", 3*time.Minute, func(p *corev1.Pod) bool {
		is := p.Status.InitContainerStatuses
		return len(is) == 2 && is[0].RestartCount >= 2 && is[0].LastTerminationState.Terminated != nil
	})
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("init-always is %s, want Pending", p.Status.Phase)
	}
	waitsInitializing(t, p)
	if w := p.Status.InitContainerStatuses[1].State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Errorf("init2 of init-always: %+v, want waiting as PodInitializing", p.Status.InitContainerStatuses[1].State)
	}
	if c := condition(p, corev1.PodInitialized); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotInitialized" ||
		c.Message != "containers with incomplete status: [init1 init2]" {
		t.Errorf("Initialized of init-always: %+v", c)
	}
	for _, name := range []string{"init-never", "init-always"} {
		events := mustKubectl(t, nil, "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+name)
		if strings.Contains(events, "Started container run1") {
			t.Errorf("%s's container started:\n%s", name, events)
		}
	}
}

// Startup probes as on a kubelet: one that succeeds late holds back the
// container's started and ready until it does; one that keeps failing
// gets the container restarted with an Unhealthy event.
func TestStartupProbes(t *testing.T) {
	ns := namespace(t)
	exec := func(cmd string, failures int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", cmd}}},
			PeriodSeconds: 1, FailureThreshold: failures}
	}
	late := shell("main", "sleep 10; touch /tmp/started; exec sleep 3600")
	late.StartupProbe = exec("test -f /tmp/started", 60)
	late.ReadinessProbe = exec("true", 3)
	createPod(t, ns, virtualPod("late", late))
	broken := shell("main", "exec sleep 3600")
	broken.StartupProbe = exec("test -f /tmp/never", 2)
	createPod(t, ns, virtualPod("never-starts", broken))

	waitPod(t, ns, "late", "running, neither started nor ready", 2*time.Minute, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Running != nil && cs[0].Started != nil && !*cs[0].Started && !cs[0].Ready
	})
	p := waitPod(t, ns, "late", "started and ready", 2*time.Minute, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && ptr.Deref(cs[0].Started, false) && cs[0].Ready
	})
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 {
		t.Errorf("late restarted %d times", cs.RestartCount)
	}

	waitPod(t, ns, "never-starts", "restarted", 2*time.Minute, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount >= 1 && !ptr.Deref(cs[0].Started, false)
	})
	events := mustKubectl(t, nil, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=never-starts")
	if !strings.Contains(events, "Unhealthy") || !strings.Contains(events, "Startup probe failed:") ||
		!strings.Contains(events, "Container main failed startup probe, will be restarted") {
		t.Errorf("never-starts' events:\n%s", events)
	}
}

// gRPC probes ask the container's gRPC health service: a SERVING answer
// makes the container ready, a NOT_SERVING one fails its liveness probe.
func TestGRPCProbes(t *testing.T) {
	ns := namespace(t)
	grpc := func(service string) *corev1.Probe {
		p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 80}}, PeriodSeconds: 1, FailureThreshold: 2}
		if service != "" {
			p.GRPC.Service = ptr.To(service)
		}
		return p
	}
	ready := corev1.Container{Name: "web", Image: env.Regs.Images.Hello, ReadinessProbe: grpc(""), StartupProbe: grpc("")}
	createPod(t, ns, virtualPod("grpc-ready", ready))
	live := corev1.Container{Name: "web", Image: env.Regs.Images.Hello, LivenessProbe: grpc("down"),
		Env: []corev1.EnvVar{{Name: "GRPC_NOT_SERVING", Value: "down"}}}
	createPod(t, ns, virtualPod("grpc-live", live))

	waitPod(t, ns, "grpc-ready", "ready", 2*time.Minute, running)
	waitPod(t, ns, "grpc-live", "restarted", 2*time.Minute, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount >= 1
	})
	events := mustKubectl(t, nil, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=grpc-live,reason=Unhealthy")
	if !strings.Contains(events, `Liveness probe failed: service unhealthy (responded with "NOT_SERVING")`) {
		t.Errorf("grpc-live's events:\n%s", events)
	}
}
