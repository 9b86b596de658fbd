package system

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

// Security contexts as on a kubelet, read with kubectl: the pod's user,
// group and supplemental groups in id; a read-only root refuses writes;
// allowPrivilegeEscalation false sets no_new_privs; dropping ALL empties
// the effective capabilities; safe sysctls are set in the pod's
// namespaces, and an unsafe one fails the pod with SysctlForbidden; a
// container with runAsNonRoot on a root image waits with
// CreateContainerConfigError and the kubelet's message, tried again.
func TestSecurityContext(t *testing.T) {
	ns := namespace(t)
	never := func(p *corev1.Pod) *corev1.Pod { p.Spec.RestartPolicy = corev1.RestartPolicyNever; return p }

	ids := never(virtualPod("ids", shell("main", "id")))
	ids.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](65534), RunAsGroup: ptr.To[int64](65534),
		SupplementalGroups: []int64{5000}}
	status := "grep -E '^(NoNewPrivs|CapEff):' /proc/self/status; touch /written 2>/dev/null && echo wrote || echo read-only"
	withSC := func(name string, sc *corev1.SecurityContext) corev1.Container {
		c := shell(name, status)
		c.SecurityContext = sc
		return c
	}
	locked := never(virtualPod("locked",
		withSC("plain", nil),
		withSC("nnp", &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false)}),
		withSC("caps", &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}),
		withSC("ro", &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(true)})))
	sysctls := never(virtualPod("sysctls", shell("main", "cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_local_port_range")))
	sysctls.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
		{Name: "kernel/shm_rmid_forced", Value: "1"}, {Name: "net.ipv4.ip_local_port_range", Value: "2000 60000"}}}
	unsafe := never(virtualPod("unsafe", shell("main", "true")))
	unsafe.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "10000000000"}}}
	nonRoot := virtualPod("nonroot", shell("main", "sleep 3600"))
	nonRoot.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}
	for _, p := range []*corev1.Pod{ids, locked, sysctls, unsafe} {
		createPod(t, ns, p)
	}
	nonRoot = createPod(t, ns, nonRoot)

	succeeded := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }
	waitPod(t, ns, "ids", "Succeeded", 2*time.Minute, succeeded)
	if out := mustKubectl(t, nil, "logs", "-n", ns, "ids"); !strings.Contains(out, "uid=65534") ||
		!strings.Contains(out, "gid=65534") || !strings.Contains(out, "5000") {
		t.Errorf("id as user and group 65534 with supplemental group 5000: %q", out)
	}

	waitPod(t, ns, "locked", "Succeeded", 2*time.Minute, succeeded)
	for ctr, want := range map[string][]string{
		"plain": {"NoNewPrivs:\t0", "wrote"},
		"nnp":   {"NoNewPrivs:\t1", "wrote"},
		"caps":  {"CapEff:\t0000000000000000", "NoNewPrivs:\t0"},
		"ro":    {"read-only", "NoNewPrivs:\t0"},
	} {
		out := mustKubectl(t, nil, "logs", "-n", ns, "locked", "-c", ctr)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("container %s logged %q, without %q", ctr, out, w)
			}
		}
		if ctr == "plain" && strings.Contains(out, "CapEff:\t0000000000000000") {
			t.Errorf("a container that drops nothing has no capabilities: %q", out)
		}
	}

	waitPod(t, ns, "sysctls", "Succeeded", 2*time.Minute, succeeded)
	if out := mustKubectl(t, nil, "logs", "-n", ns, "sysctls"); out != "1\n2000\t60000\n" {
		t.Errorf("sysctls read back as %q", out)
	}
	p := waitPod(t, ns, "unsafe", "Failed", 2*time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if p.Status.Reason != "SysctlForbidden" || !strings.Contains(p.Status.Message, `"kernel.msgmax" not allowlisted`) {
		t.Errorf("a pod with an unsafe sysctl: reason %q, message %q", p.Status.Reason, p.Status.Message)
	}

	want := fmt.Sprintf("container has runAsNonRoot and image will run as root (pod: %q, container: main)",
		fmt.Sprintf("nonroot_%s(%s)", ns, nonRoot.UID))
	p = waitPod(t, ns, "nonroot", "waiting with CreateContainerConfigError", 2*time.Minute, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	if got := p.Status.ContainerStatuses[0].State.Waiting.Message; got != want || p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, message %q; want Pending, %q", p.Status.Phase, got, want)
	}
	// The kubelet tries again, and says so each time.
	framework.WaitFor(t, "a second Failed event of pod nonroot", 2*time.Minute, func() (bool, error) {
		evs, err := env.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: "involvedObject.name=nonroot,reason=Failed"})
		if err != nil {
			return false, err
		}
		n := int32(0)
		for _, e := range evs.Items {
			if strings.Contains(e.Message, "Error: "+want) {
				n += max(e.Count, 1)
				if e.Series != nil {
					n = max(n, e.Series.Count)
				}
			}
		}
		return n >= 2, fmt.Errorf("%d Failed events with the message among %d", n, len(evs.Items))
	})
}
