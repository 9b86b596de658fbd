package aci

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/sysctl"
	"github.com/vnode-io/vnode/internal/wire"
)

// effectiveSecurity is the security context a container runs with: its
// own, with the pod's settings filling the fields it leaves unset, as the
// kubelet determines it (pkg/securitycontext's
// DetermineEffectiveSecurityContext). Nil when neither sets anything.
func effectiveSecurity(pod *corev1.Pod, c *corev1.Container) *corev1.SecurityContext {
	var out corev1.SecurityContext
	if c.SecurityContext != nil {
		out = *c.SecurityContext.DeepCopy()
	}
	if p := pod.Spec.SecurityContext; p != nil {
		if out.RunAsUser == nil {
			out.RunAsUser = p.RunAsUser
		}
		if out.RunAsGroup == nil {
			out.RunAsGroup = p.RunAsGroup
		}
		if out.RunAsNonRoot == nil {
			out.RunAsNonRoot = p.RunAsNonRoot
		}
		if out.SeccompProfile == nil {
			out.SeccompProfile = p.SeccompProfile
		}
		if out.SELinuxOptions == nil {
			out.SELinuxOptions = p.SELinuxOptions
		}
		if out.AppArmorProfile == nil {
			out.AppArmorProfile = p.AppArmorProfile
		}
	}
	if c.SecurityContext == nil && out == (corev1.SecurityContext{}) {
		return nil
	}
	return &out
}

// podRef names a pod in messages as the kubelet does.
func podRef(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// securityContext converts a (init) container's effective security
// context into ACI's, and what ACI lacks into the service's
// security-context extension (o.security). Without it (Azure) a field
// that ACI cannot express and that would change how the container runs
// is a *backend.ConfigError naming it, and runAsNonRoot is checked here
// against the image's user from its registry (o.imageUsers) as the kubelet
// checks it. A seccomp profile of type Localhost names a file on the
// node, which container instances do not have: the pod cannot run.
func (s *groupSpec) securityContext(pod *corev1.Pod, c *corev1.Container, o convertOptions) (*aci.SecurityContextDefinition, error) {
	sc := effectiveSecurity(pod, c)
	if sc == nil {
		return nil, nil
	}
	out := &aci.SecurityContextDefinition{Privileged: sc.Privileged, AllowPrivilegeEscalation: sc.AllowPrivilegeEscalation}
	var err error
	if out.RunAsUser, err = id32(sc.RunAsUser, "runAsUser", c.Name); err != nil {
		return nil, err
	}
	if out.RunAsGroup, err = id32(sc.RunAsGroup, "runAsGroup", c.Name); err != nil {
		return nil, err
	}
	if caps := sc.Capabilities; caps != nil && (len(caps.Add) > 0 || len(caps.Drop) > 0) {
		out.Capabilities = &aci.SecurityContextCapabilitiesDefinition{}
		for _, a := range caps.Add {
			out.Capabilities.Add = append(out.Capabilities.Add, ptr(string(a)))
		}
		for _, d := range caps.Drop {
			out.Capabilities.Drop = append(out.Capabilities.Drop, ptr(string(d)))
		}
	}
	var ext wire.ContainerSecurity
	if p := sc.SeccompProfile; p != nil {
		switch p.Type {
		case corev1.SeccompProfileTypeLocalhost:
			return nil, fmt.Errorf("container %q: seccompProfile type Localhost names a profile file on the node, "+
				"which container instances do not have", c.Name)
		case corev1.SeccompProfileTypeUnconfined, corev1.SeccompProfileTypeRuntimeDefault:
			ext.SeccompProfileType = string(p.Type)
		}
	}
	ext.RunAsNonRoot = sc.RunAsNonRoot != nil && *sc.RunAsNonRoot
	ext.ReadOnlyRootFilesystem = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	if o.security {
		if ext != (wire.ContainerSecurity{}) {
			if s.ext.Security == nil {
				s.ext.Security = map[string]wire.ContainerSecurity{}
			}
			s.ext.Security[c.Name] = ext
		}
	} else if err := checkACISecurity(pod, c, sc, ext, o.imageUsers[c.Name]); err != nil {
		return nil, err
	}
	if *out == (aci.SecurityContextDefinition{}) {
		return nil, nil
	}
	return out, nil
}

// id32 converts a user or group id to ACI's type; Kubernetes allows
// 0 to 2^31-1 only.
func id32(id *int64, field, container string) (*int32, error) {
	if id == nil {
		return nil, nil
	}
	if *id < 0 || *id > math.MaxInt32 {
		return nil, fmt.Errorf("container %q: %s %d is out of range", container, field, *id)
	}
	return ptr(int32(*id)), nil
}

// checkACISecurity refuses, as a *backend.ConfigError, what ACI's
// securityContext cannot express (Azure): a read-only root, no seccomp
// profile; and a container that must not run as root and would, by its
// runAsUser or by its image's user (imageUser), with the kubelet's words.
// RuntimeDefault is ACI's own behaviour, and passes.
func checkACISecurity(pod *corev1.Pod, c *corev1.Container, sc *corev1.SecurityContext, ext wire.ContainerSecurity, imageUser string) error {
	switch {
	case ext.ReadOnlyRootFilesystem:
		return &backend.ConfigError{Message: fmt.Sprintf("container %q: securityContext.readOnlyRootFilesystem is not "+
			"supported by container instances", c.Name)}
	case ext.SeccompProfileType == wire.SeccompUnconfined:
		return &backend.ConfigError{Message: fmt.Sprintf("container %q: securityContext.seccompProfile type Unconfined is not "+
			"supported by container instances", c.Name)}
	case !ext.RunAsNonRoot:
		return nil
	case sc.RunAsUser != nil:
		if *sc.RunAsUser == 0 {
			return &backend.ConfigError{Message: fmt.Sprintf("container's runAsUser breaks non-root policy (pod: %q, container: %s)",
				podRef(pod), c.Name)}
		}
		return nil
	}
	user, _, _ := strings.Cut(imageUser, ":")
	uid, err := strconv.ParseInt(user, 10, 64)
	switch {
	case user == "" || err == nil && uid == 0:
		return &backend.ConfigError{Message: fmt.Sprintf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)",
			podRef(pod), c.Name)}
	case err != nil:
		return &backend.ConfigError{Message: fmt.Sprintf("container has runAsNonRoot and image has non-numeric user (%s), "+
			"cannot verify user is non-root (pod: %q, container: %s)", clipUser(user), podRef(pod), c.Name)}
	}
	return nil
}

// clipUser bounds what a message repeats of an image's user.
func clipUser(u string) string {
	if len(u) > 64 {
		return u[:64] + "…"
	}
	return u
}

// setPodSecurity sends what the pod's security context says for the whole
// group with the service's security-context extension (o.security):
// supplemental groups and their policy, and sysctls, named with dots.
// Without it (Azure), which has none of them, each is a
// *backend.ConfigError naming it; the Merge policy is what containers do
// anyway. The agent admitted the sysctls already (package sysctl).
func (s *groupSpec) setPodSecurity(pod *corev1.Pod, o convertOptions) error {
	p := pod.Spec.SecurityContext
	if p == nil {
		return nil
	}
	var out wire.PodSecurity
	out.SupplementalGroups = append(out.SupplementalGroups, p.SupplementalGroups...)
	if p.SupplementalGroupsPolicy != nil {
		out.SupplementalGroupsPolicy = string(*p.SupplementalGroupsPolicy)
	}
	for _, sc := range p.Sysctls {
		out.Sysctls = append(out.Sysctls, wire.Sysctl{Name: sysctl.Normalize(sc.Name), Value: sc.Value})
	}
	if o.security {
		s.ext.PodSecurity = out
		return nil
	}
	var field string
	switch {
	case len(out.SupplementalGroups) > 0:
		field = "supplementalGroups"
	case out.SupplementalGroupsPolicy == wire.SupplementalGroupsStrict:
		field = "supplementalGroupsPolicy Strict"
	case len(out.Sysctls) > 0:
		field = "sysctls"
	default:
		return nil
	}
	return &backend.ConfigError{Message: fmt.Sprintf("pod securityContext.%s is not supported by container instances", field)}
}
