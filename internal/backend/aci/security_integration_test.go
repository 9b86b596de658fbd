package aci_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/aci"
	"github.com/vnode-io/vnode/internal/wire"
)

// secureWorkload is a pod whose security context uses what ACI has and
// what only the service's extension has.
func secureWorkload(name string) *backend.Workload {
	w := workload(name, "1")
	w.Pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsNonRoot: ptr.To(true),
		SupplementalGroups: []int64{5000}, Sysctls: []corev1.Sysctl{{Name: "net.ipv4.tcp_syncookies", Value: "1"}}}
	w.Pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	return w
}

// The service accepts what the backend sends of a security context, keeps
// it and runs the pod; against a service without the extension (Azure)
// the fields ACI lacks make a configuration error, and no group.
func TestBackendSecurityContext(t *testing.T) {
	files := startService(t, nil)
	b, rec := newBackend(t, files)
	w := secureWorkload("secure")
	if err := b.Create(testContext(t), w); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, w.Pod.UID, "Running", running)
	g, ext := rawGroup(t, files, aci.GroupName("default", "secure"))
	sc := g.Properties.Containers[0].Properties.SecurityContext
	if sc == nil || *sc.RunAsUser != 1000 || *sc.AllowPrivilegeEscalation || *sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("ACI's securityContext %+v", sc)
	}
	if ext.Security["main"] != (wire.ContainerSecurity{RunAsNonRoot: true, ReadOnlyRootFilesystem: true}) ||
		!slices.Equal(ext.PodSecurity.SupplementalGroups, []int64{5000}) || len(ext.PodSecurity.Sysctls) != 1 {
		t.Errorf("the service's additions %+v", ext)
	}

	announced := slices.DeleteFunc(wire.Extensions(), func(n string) bool { return n == wire.ExtSecurityContext })
	azure, _ := newBackend(t, announce(t, files, wire.FormatExtensions(announced)))
	err := azure.Create(testContext(t), secureWorkload("azure"))
	var cfgErr *backend.ConfigError
	if !errors.As(err, &cfgErr) || !strings.Contains(cfgErr.Message, "supplementalGroups") {
		t.Errorf("against Azure: %v, want a configuration error naming supplementalGroups", err)
	}
	if names := groupNames(t, files); slices.Contains(names, aci.GroupName("default", "azure")) {
		t.Errorf("a group was created against Azure: %v", names)
	}
}
