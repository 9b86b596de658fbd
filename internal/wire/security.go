package wire

import (
	"encoding/json"
	"fmt"
)

// The seccomp profile types a container may name (ContainerSecurity's
// SeccompProfileType), as Kubernetes names them: the runtime's default
// profile, or none. Kubernetes' Localhost names a file on the node, which
// a container group does not have; ACI's seccompProfile brings a profile's
// JSON instead.
const (
	SeccompRuntimeDefault = "RuntimeDefault"
	SeccompUnconfined     = "Unconfined"
)

// The supplemental groups policies (PodSecurity's SupplementalGroupsPolicy),
// as Kubernetes names them: the groups of the image's user in its
// /etc/group are added to the container's (Merge, the default), or only
// the container's primary group and the listed ones are set (Strict).
const (
	SupplementalGroupsMerge  = "Merge"
	SupplementalGroupsStrict = "Strict"
)

// ContainerSecurity is what a (init) container's security context says
// beyond what ACI's securityContext holds, with Kubernetes' meaning. It
// sits in the container's securityContext, beside ACI's fields:
//
//	"securityContext": {"runAsUser": 1000, "runAsNonRoot": true,
//	  "readOnlyRootFilesystem": true, "seccompProfileType": "Unconfined"}
type ContainerSecurity struct {
	// RunAsNonRoot refuses to start the container when it would run as
	// uid 0: its runAsUser, else its image's user.
	RunAsNonRoot bool `json:"runAsNonRoot,omitempty"`
	// ReadOnlyRootFilesystem mounts the container's root filesystem
	// read-only.
	ReadOnlyRootFilesystem bool `json:"readOnlyRootFilesystem,omitempty"`
	// SeccompProfileType is SeccompRuntimeDefault or SeccompUnconfined;
	// empty: ACI's seccompProfile when the container has one, else the
	// runtime's default.
	SeccompProfileType string `json:"seccompProfileType,omitempty"`
}

// Sysctl is a kernel parameter of the group's namespaces and its value.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PodSecurity is what a pod's security context says that applies to the
// whole group, with Kubernetes' names. It sits in the group's properties:
//
//	"securityContext": {"supplementalGroups": [5000],
//	  "supplementalGroupsPolicy": "Strict",
//	  "sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}
type PodSecurity struct {
	// SupplementalGroups are added to every container's process groups.
	SupplementalGroups []int64 `json:"supplementalGroups,omitempty"`
	// SupplementalGroupsPolicy is SupplementalGroupsMerge (when empty) or
	// SupplementalGroupsStrict.
	SupplementalGroupsPolicy string `json:"supplementalGroupsPolicy,omitempty"`
	// Sysctls are set in the group's namespaces before its containers
	// start.
	Sysctls []Sysctl `json:"sysctls,omitempty"`
}

// IsZero reports whether p asks for nothing.
func (p PodSecurity) IsZero() bool {
	return len(p.SupplementalGroups) == 0 && p.SupplementalGroupsPolicy == "" && len(p.Sysctls) == 0
}

// securityJSON is where the security additions sit in a group's JSON.
type securityJSON struct {
	Properties struct {
		SecurityContext *PodSecurity            `json:"securityContext"`
		Containers      []containerSecurityJSON `json:"containers"`
		InitContainers  []containerSecurityJSON `json:"initContainers"`
	} `json:"properties"`
}

type containerSecurityJSON struct {
	Name       string `json:"name"`
	Properties struct {
		SecurityContext *ContainerSecurity `json:"securityContext"`
	} `json:"properties"`
}

// parseSecurity records the security additions of a group's JSON.
func (e *GroupExtensions) parseSecurity(raw []byte) error {
	var g securityJSON
	if err := json.Unmarshal(raw, &g); err != nil {
		return fmt.Errorf("read vnode's security additions: %w", err)
	}
	if sc := g.Properties.SecurityContext; sc != nil {
		e.PodSecurity = *sc
	}
	for _, c := range append(g.Properties.Containers, g.Properties.InitContainers...) {
		if sc := c.Properties.SecurityContext; sc != nil && *sc != (ContainerSecurity{}) {
			if e.Security == nil {
				e.Security = map[string]ContainerSecurity{}
			}
			e.Security[c.Name] = *sc
		}
	}
	return nil
}

// applyPodSecurity writes the group's security additions into its
// properties, beside what a securityContext there holds already.
func (a GroupAdditions) applyPodSecurity(props map[string]any) {
	if a.PodSecurity.IsZero() {
		return
	}
	sc, _ := props["securityContext"].(map[string]any)
	if sc == nil {
		sc = map[string]any{}
		props["securityContext"] = sc
	}
	p := a.PodSecurity
	if len(p.SupplementalGroups) > 0 {
		sc["supplementalGroups"] = p.SupplementalGroups
	}
	setString(sc, "supplementalGroupsPolicy", p.SupplementalGroupsPolicy)
	if len(p.Sysctls) > 0 {
		sc["sysctls"] = p.Sysctls
	}
}

// applyContainerSecurity writes a (init) container's security additions
// into its securityContext, beside ACI's fields.
func (a GroupAdditions) applyContainerSecurity(name string, props map[string]any) {
	s, ok := a.Security[name]
	if !ok || s == (ContainerSecurity{}) {
		return
	}
	sc, _ := props["securityContext"].(map[string]any)
	if sc == nil {
		sc = map[string]any{}
		props["securityContext"] = sc
	}
	if s.RunAsNonRoot {
		sc["runAsNonRoot"] = true
	}
	if s.ReadOnlyRootFilesystem {
		sc["readOnlyRootFilesystem"] = true
	}
	setString(sc, "seccompProfileType", s.SeccompProfileType)
}
