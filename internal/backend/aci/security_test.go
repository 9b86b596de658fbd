package aci

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"
	kptr "k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// securePod is a pod whose security context sets users, groups and
// runAsNonRoot for all its containers; one container overrides the user,
// drops capabilities and asks for a read-only root and no seccomp profile.
func securePod() *corev1.Pod {
	pod := testPod(
		corev1.Container{Name: "app", Image: "img", SecurityContext: &corev1.SecurityContext{
			RunAsUser: kptr.To[int64](2000), AllowPrivilegeEscalation: kptr.To(false), ReadOnlyRootFilesystem: kptr.To(true),
			Capabilities:   &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}},
		corev1.Container{Name: "plain", Image: "img"})
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "img"}}
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: kptr.To[int64](1000), RunAsGroup: kptr.To[int64](3000),
		RunAsNonRoot: kptr.To(true), SupplementalGroups: []int64{5000},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		Sysctls:        []corev1.Sysctl{{Name: "kernel/shm_rmid_forced", Value: "1"}}}
	return pod
}

// With the extension, the effective security context (the container's
// fields over the pod's) goes into ACI's securityContext and the rest
// into the additions, for init containers too; the group gets the
// supplemental groups and the sysctls, named with dots.
func TestConvertSecurityContext(t *testing.T) {
	o := testOptions()
	o.security = true
	s, err := convert(&backend.Workload{Pod: securePod()}, o)
	if err != nil {
		t.Fatal(err)
	}
	p := s.group.Properties
	app := p.Containers[0].Properties.SecurityContext
	if *app.RunAsUser != 2000 || *app.RunAsGroup != 3000 || *app.AllowPrivilegeEscalation || app.Privileged != nil ||
		*app.Capabilities.Add[0] != "NET_BIND_SERVICE" || *app.Capabilities.Drop[0] != "ALL" || app.SeccompProfile != nil {
		t.Errorf("app's securityContext %+v", app)
	}
	plain := p.Containers[1].Properties.SecurityContext
	if *plain.RunAsUser != 1000 || *plain.RunAsGroup != 3000 || plain.Capabilities != nil {
		t.Errorf("plain's securityContext %+v", plain)
	}
	if setup := p.InitContainers[0].Properties.SecurityContext; setup == nil || *setup.RunAsUser != 1000 {
		t.Errorf("setup's securityContext %+v", setup)
	}
	want := map[string]wire.ContainerSecurity{
		"app":   {RunAsNonRoot: true, ReadOnlyRootFilesystem: true, SeccompProfileType: wire.SeccompUnconfined},
		"plain": {RunAsNonRoot: true, SeccompProfileType: wire.SeccompRuntimeDefault},
		"setup": {RunAsNonRoot: true, SeccompProfileType: wire.SeccompRuntimeDefault},
	}
	if !reflect.DeepEqual(s.ext.Security, want) {
		t.Errorf("additions %+v, want %+v", s.ext.Security, want)
	}
	if want := (wire.PodSecurity{SupplementalGroups: []int64{5000},
		Sysctls: []wire.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}}}); !reflect.DeepEqual(s.ext.PodSecurity, want) {
		t.Errorf("group's additions %+v, want %+v", s.ext.PodSecurity, want)
	}
	// A pod without security settings sends none.
	if s, err := convert(&backend.Workload{Pod: testPod(corev1.Container{Name: "a", Image: "img"})}, o); err != nil ||
		s.group.Properties.Containers[0].Properties.SecurityContext != nil || s.ext.Security != nil || !s.ext.PodSecurity.IsZero() {
		t.Errorf("a pod without security settings: %v", err)
	}
}

// A Localhost seccomp profile cannot run anywhere; without the extension
// (Azure) each field ACI lacks is a configuration error naming it.
func TestConvertSecurityContextRefused(t *testing.T) {
	local := testPod(corev1.Container{Name: "a", Image: "img", SecurityContext: &corev1.SecurityContext{
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: kptr.To("p.json")}}})
	o := testOptions()
	o.security = true
	var cfgErr *backend.ConfigError
	if _, err := convert(&backend.Workload{Pod: local}, o); err == nil || errors.As(err, &cfgErr) || !strings.Contains(err.Error(), "Localhost") {
		t.Errorf("Localhost: %v", err)
	}
	azure := testOptions()
	for _, tc := range []struct {
		name, want string
		edit       func(*corev1.Pod)
	}{
		{"read-only root", `container "a": securityContext.readOnlyRootFilesystem`, func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: kptr.To(true)}
		}},
		{"unconfined", "seccompProfile type Unconfined", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
		}},
		{"supplemental groups", "pod securityContext.supplementalGroups", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SupplementalGroups: []int64{1}}
		}},
		{"sysctls", "pod securityContext.sysctls", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.tcp_syncookies", Value: "1"}}}
		}},
		{"root user", `container's runAsUser breaks non-root policy (pod: "web_default(uid-1)", container: a)`, func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: kptr.To(true), RunAsUser: kptr.To[int64](0)}
		}},
		{"root image", `container has runAsNonRoot and image will run as root (pod: "web_default(uid-1)", container: a)`, func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: kptr.To(true)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod(corev1.Container{Name: "a", Image: "img"})
			tc.edit(pod)
			_, err := convert(&backend.Workload{Pod: pod}, azure)
			if !errors.As(err, &cfgErr) || !strings.Contains(cfgErr.Message, tc.want) {
				t.Errorf("%v, want a configuration error with %q", err, tc.want)
			}
		})
	}
	// What ACI has passes: users, groups, capabilities, no privilege
	// escalation, RuntimeDefault, the Merge policy, a non-root image.
	pod := testPod(corev1.Container{Name: "a", Image: "img", SecurityContext: &corev1.SecurityContext{
		AllowPrivilegeEscalation: kptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}},
		corev1.Container{Name: "b", Image: "nonroot"})
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: kptr.To(true), RunAsGroup: kptr.To[int64](5),
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		SupplementalGroupsPolicy: kptr.To(corev1.SupplementalGroupsPolicyMerge)}
	azure.imageUsers = map[string]string{"a": "1000:1000", "b": "65534"}
	s, err := convert(&backend.Workload{Pod: pod}, azure)
	if err != nil {
		t.Fatal(err)
	}
	if s.ext.Security != nil || !s.ext.PodSecurity.IsZero() || *s.group.Properties.Containers[1].Properties.SecurityContext.RunAsGroup != 5 {
		t.Errorf("against Azure: %+v, %+v", s.ext, s.group.Properties.Containers[1].Properties.SecurityContext)
	}
	azure.imageUsers = map[string]string{"a": "nobody", "b": "0:0"}
	if _, err := convert(&backend.Workload{Pod: pod}, azure); !errors.As(err, &cfgErr) ||
		!strings.Contains(cfgErr.Message, "image has non-numeric user (nobody), cannot verify user is non-root") {
		t.Errorf("a named image user: %v", err)
	}
}

// A container that the service does not start because its configuration
// is wanting (runAsNonRoot on a root image) waits with the kubelet's reason
// and the service's message.
func TestConfigErrorState(t *testing.T) {
	body := []byte(`{"name":"default-web","properties":{"containers":[{"name":"main","properties":{"instanceView":{
		"currentState":{"state":"Waiting","detailStatus":"CreateContainerConfigError","message":"container has runAsNonRoot"}}}}]}}`)
	var r additionsJSON
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	var v view
	r.apply(&v)
	v.group = testGroup("Succeeded", &aci.ContainerState{State: kptr.To("Waiting"), DetailStatus: kptr.To("CreateContainerConfigError")}, nil)
	c := podState(v).Containers[0]
	if c.State != backend.Waiting || c.Reason != backend.ReasonCreateContainerConfigError || c.Message != "container has runAsNonRoot" {
		t.Errorf("state %+v", c)
	}
}
