package aci_test

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vnode-io/vnode/internal/backend"
)

// The service takes the hooks the agent sends, named port resolved and
// sleep within the grace period; without the extension (Azure) the pod
// cannot run and the error names the container and the hook.
func TestBackendLifecycleHooks(t *testing.T) {
	files := startService(t, nil)
	hooked := func(name string) *backend.Workload {
		w := workload(name, "1")
		c := &w.Pod.Spec.Containers[0]
		c.Ports[0].Name = "http"
		c.Lifecycle = &corev1.Lifecycle{
			PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/started", Port: intstr.FromString("http"),
				Scheme: corev1.URISchemeHTTP, HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Hook", Value: "postStart"}}}},
			PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 30}},
		}
		return w
	}
	b, rec := newBackend(t, announce(t, files, "list-instance-view,lifecycle-hooks"))
	w := hooked("hooks-on")
	if err := b.Create(testContext(t), w); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, w.Pod.UID, "running", running)

	azure, _ := newBackend(t, announce(t, files, "list-instance-view"))
	err := azure.Create(testContext(t), hooked("hooks-off"))
	if !errors.Is(err, backend.ErrUnsatisfiable) || !strings.Contains(err.Error(), `container "main" has a postStart hook`) {
		t.Errorf("without the extension: %v", err)
	}
}
