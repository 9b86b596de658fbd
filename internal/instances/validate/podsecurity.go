package validate

import (
	"fmt"
	"math"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/sysctl"
	"github.com/vnode-io/vnode/internal/wire"
)

// Codes of the security-context extension's problems.
const (
	CodeInvalidPodSecurityContext = "InvalidPodSecurityContext"
	CodeSysctlForbidden           = "SysctlForbidden"
)

// maxSupplementalGroups bounds a group's supplemental groups: a process
// with more is rare, and each is set in every container.
const maxSupplementalGroups = 64

// maxSysctls bounds a group's sysctls: each must be one of the safe set,
// which is smaller.
const maxSysctls = 32

// containerSecurity checks what the security-context extension adds to a
// (init) container's securityContext, and the user and group ids of ACI's:
// ids of 0 to 2^31-1, as Kubernetes takes them; a seccomp profile type of
// RuntimeDefault or Unconfined, not beside a profile of ACI's.
// Kubernetes' Localhost names a file on the node, which callers do not
// have: they send the profile's JSON in seccompProfile instead.
func (c *checker) containerSecurity(sc *aci.SecurityContextDefinition, name, at string) *errdefs.Error {
	if sc != nil {
		for field, id := range map[string]*int32{"runAsUser": sc.RunAsUser, "runAsGroup": sc.RunAsGroup} {
			if id != nil && *id < 0 {
				return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at+"."+field,
					"The %s %d of container '%s' is negative. Use an id from 0 to %d.", field, *id, name, math.MaxInt32)
			}
		}
	}
	s := c.ext.Security[name]
	switch s.SeccompProfileType {
	case "":
		return nil
	case wire.SeccompRuntimeDefault, wire.SeccompUnconfined:
	case "Localhost":
		return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at+".seccompProfileType",
			"The container '%s' asks for a Localhost seccomp profile, which names a file on the node; container groups "+
				"have no such files. Send the profile's JSON, base64-encoded, in seccompProfile instead.", name)
	default:
		return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at+".seccompProfileType",
			"The seccomp profile type '%s' of container '%s' is not supported. Use '%s' or '%s'.",
			clip(s.SeccompProfileType), name, wire.SeccompRuntimeDefault, wire.SeccompUnconfined)
	}
	if sc != nil && str(sc.SeccompProfile) != "" {
		return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at+".seccompProfileType",
			"The container '%s' has both a seccompProfile and a seccompProfileType. Send one of them.", name)
	}
	return nil
}

// securityNames checks that the security-context extension names only
// the group's (init) containers; it runs after the containers' checks.
func (c *checker) securityNames() *errdefs.Error {
	for name := range c.ext.Security {
		if !c.names[name] {
			return errdefs.InvalidField(CodeInvalidContainerSecurityContext, "properties.containers",
				"The security context of container '%s' names no container or init container of the group.", clip(name))
		}
	}
	return nil
}

// checkPodSecurity checks the group's securityContext of the extension:
// at most 64 supplemental groups of 0 to 2^31-1; the Merge policy (the
// CRI runtime cannot promise Strict: containerd before 2.0 ignores it);
// and at most 32 sysctls, each named once, of the kubelet's safe set (the
// service runs as root: no other kernel parameter is set for a caller),
// with values that are one line of printable text.
func checkPodSecurity(p wire.PodSecurity) *errdefs.Error {
	const at = "properties.securityContext"
	if len(p.SupplementalGroups) > maxSupplementalGroups {
		return errdefs.InvalidField(CodeInvalidPodSecurityContext, at+".supplementalGroups",
			"The group has %d supplemental groups; at most %d are allowed.", len(p.SupplementalGroups), maxSupplementalGroups)
	}
	for i, g := range p.SupplementalGroups {
		if g < 0 || g > math.MaxInt32 {
			return errdefs.InvalidField(CodeInvalidPodSecurityContext, fmt.Sprintf("%s.supplementalGroups[%d]", at, i),
				"The supplemental group %d is out of range. Use an id from 0 to %d.", g, math.MaxInt32)
		}
	}
	switch p.SupplementalGroupsPolicy {
	case "", wire.SupplementalGroupsMerge:
	case wire.SupplementalGroupsStrict:
		return errdefs.InvalidField(CodeInvalidPodSecurityContext, at+".supplementalGroupsPolicy",
			"The supplemental groups policy '%s' is not supported by this service's container runtime. Use '%s'.",
			wire.SupplementalGroupsStrict, wire.SupplementalGroupsMerge)
	default:
		return errdefs.InvalidField(CodeInvalidPodSecurityContext, at+".supplementalGroupsPolicy",
			"The supplemental groups policy '%s' is invalid. Use '%s'.", clip(p.SupplementalGroupsPolicy), wire.SupplementalGroupsMerge)
	}
	return checkSysctls(p.Sysctls, at+".sysctls")
}

func checkSysctls(list []wire.Sysctl, at string) *errdefs.Error {
	if len(list) > maxSysctls {
		return errdefs.InvalidField(CodeInvalidPodSecurityContext, at, "The group has %d sysctls; at most %d are allowed.",
			len(list), maxSysctls)
	}
	seen := map[string]bool{}
	for i, s := range list {
		target := fmt.Sprintf("%s[%d]", at, i)
		switch {
		case !sysctl.IsSafe(s.Name):
			return errdefs.InvalidField(CodeSysctlForbidden, target+".name",
				"The sysctl '%s' is not allowed. Allowed (the kubelet's safe sysctls, written with dots): %s.",
				clip(s.Name), strings.Join(sysctl.Safe(), ", "))
		case seen[s.Name]:
			return errdefs.InvalidField(CodeInvalidPodSecurityContext, target+".name", "The sysctl '%s' is set twice.", s.Name)
		}
		seen[s.Name] = true
		if p := sysctl.ValueProblem(s.Value); p != "" {
			return errdefs.InvalidField(CodeInvalidPodSecurityContext, target+".value", "The value of sysctl '%s' %s.", s.Name, p)
		}
	}
	return nil
}
