package aci

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// With the extension each container's hooks go to the service, named
// ports resolved, with the pod's grace period (Kubernetes' default when
// unset, the service's bound at most); without it (Azure) a pod with a
// hook fails, its error naming the container and the hook.
func TestConvertLifecycle(t *testing.T) {
	web := corev1.Container{Name: "web", Image: "img", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Lifecycle: &corev1.Lifecycle{
			PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "touch /started"}}},
			PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromString("http"),
				Host: "10.241.0.9", Scheme: corev1.URISchemeHTTPS, HTTPHeaders: []corev1.HTTPHeader{{Name: "X-A", Value: "1"}}}},
		}}
	slow := corev1.Container{Name: "slow", Image: "img",
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5000}}}}
	pod := testPod(web, slow, corev1.Container{Name: "plain", Image: "img"})
	o := testOptions()
	_, err := convert(&backend.Workload{Pod: pod}, o)
	if err == nil || !strings.Contains(err.Error(), `container "web" has a postStart hook`) {
		t.Errorf("without the extension: %v", err)
	}
	o.lifecycle = true
	s, err := convert(&backend.Workload{Pod: pod}, o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]wire.Lifecycle{
		"web": {PostStart: &wire.LifecycleHandler{Exec: &wire.ExecAction{Command: []string{"sh", "-c", "touch /started"}}},
			PreStop: &wire.LifecycleHandler{HTTPGet: &wire.HTTPGetAction{Path: "/drain", Port: 8080, Host: "10.241.0.9",
				Scheme: "HTTPS", HTTPHeaders: []wire.HTTPHeader{{Name: "X-A", Value: "1"}}}}},
		"slow": {PreStop: &wire.LifecycleHandler{Sleep: &wire.SleepAction{Seconds: 30}}},
	}
	if !reflect.DeepEqual(s.ext.Lifecycle, want) {
		t.Errorf("hooks %+v, want %+v", s.ext.Lifecycle, want)
	}
	if g := s.ext.TerminationGracePeriodSeconds; g == nil || *g != corev1.DefaultTerminationGracePeriodSeconds {
		t.Errorf("grace period %v, want Kubernetes' default", g)
	}
	long := int64(7200)
	pod.Spec.TerminationGracePeriodSeconds = &long
	if s, err = convert(&backend.Workload{Pod: pod}, o); err != nil || *s.ext.TerminationGracePeriodSeconds != wire.MaxGracePeriodSeconds ||
		s.ext.Lifecycle["slow"].PreStop.Sleep.Seconds != wire.MaxGracePeriodSeconds {
		t.Errorf("a long grace period: %+v, %v", s.ext, err)
	}
	if s, err = convert(&backend.Workload{Pod: testPod(corev1.Container{Name: "plain", Image: "img"})}, o); err != nil ||
		s.ext.Lifecycle != nil || s.ext.TerminationGracePeriodSeconds != nil {
		t.Errorf("a pod without hooks: %+v, %v", s.ext, err)
	}
	web.Lifecycle.PreStop.HTTPGet.Port = intstr.FromString("missing")
	if _, err = convert(&backend.Workload{Pod: testPod(web)}, o); err == nil || !strings.Contains(err.Error(), `no port named "missing"`) {
		t.Errorf("an unknown named port: %v", err)
	}
}
