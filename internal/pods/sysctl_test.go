package pods

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A pod asking for a sysctl outside the kubelet's safe set fails as the
// kubelet rejects it, with its reason and message, and never runs; one
// with safe sysctls (in either spelling) runs.
func TestUnsafeSysctlIsRefused(t *testing.T) {
	unsafe := newPod("unsafe")
	unsafe.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
		{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "kernel.msgmax", Value: "10000000000"}}}
	safe := newPod("safe")
	safe.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
		{Name: "kernel/shm_rmid_forced", Value: "1"}, {Name: "net.ipv4.tcp_syncookies", Value: "1"}}}
	f := newFixture(t, nil, unsafe, safe)
	f.run()
	p := f.waitPod("unsafe", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if want := `forbidden sysctl: "kernel.msgmax" not allowlisted`; p.Status.Reason != "SysctlForbidden" || p.Status.Message != want {
		t.Errorf("reason %q, message %q; want SysctlForbidden, %q", p.Status.Reason, p.Status.Message, want)
	}
	f.waitEvent("SysctlForbidden")
	f.waitPod("safe", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if f.backend.Creates() != 1 {
		t.Errorf("%d creates, want the safe pod's only", f.backend.Creates())
	}
}
