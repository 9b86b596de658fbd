package validate

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/wire"
)

// What the security-context extension adds passes when Kubernetes would
// run it on a kubelet: runAsNonRoot, a read-only root, the two seccomp
// profile types, supplemental groups and safe sysctls.
func TestPodSecurityAllowed(t *testing.T) {
	name := str(minimal().Properties.Containers[0].Name)
	for what, ext := range map[string]wire.GroupExtensions{
		"container fields": {Security: map[string]wire.ContainerSecurity{name: {RunAsNonRoot: true, ReadOnlyRootFilesystem: true,
			SeccompProfileType: wire.SeccompUnconfined}}},
		"runtime default": {Security: map[string]wire.ContainerSecurity{name: {SeccompProfileType: wire.SeccompRuntimeDefault}}},
		"group fields": {PodSecurity: wire.PodSecurity{SupplementalGroups: []int64{0, 5000, 1<<31 - 1},
			SupplementalGroupsPolicy: wire.SupplementalGroupsMerge,
			Sysctls: []wire.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"},
				{Name: "net.ipv4.ip_local_port_range", Value: "1024\t65000"}}}},
	} {
		if err := ContainerGroup(minimal(), testLoc, testLim, ext); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
}

// Hostile or unsupported values are refused with the field they are in.
func TestPodSecurityRefused(t *testing.T) {
	name := str(minimal().Properties.Containers[0].Name)
	ctr := func(s wire.ContainerSecurity) wire.GroupExtensions {
		return wire.GroupExtensions{Security: map[string]wire.ContainerSecurity{name: s}}
	}
	pod := func(p wire.PodSecurity) wire.GroupExtensions { return wire.GroupExtensions{PodSecurity: p} }
	sysctls := func(list ...wire.Sysctl) wire.GroupExtensions { return pod(wire.PodSecurity{Sysctls: list}) }
	many := make([]int64, maxSupplementalGroups+1)
	var manySysctls []wire.Sysctl
	for range maxSysctls + 1 {
		manySysctls = append(manySysctls, wire.Sysctl{Name: "kernel.shm_rmid_forced", Value: "1"})
	}
	const psc = "properties.securityContext"
	for _, tc := range []struct {
		what         string
		sc           *aci.SecurityContextDefinition
		ext          wire.GroupExtensions
		code, target string
		msgHas       string
	}{
		{"Localhost", nil, ctr(wire.ContainerSecurity{SeccompProfileType: "Localhost"}),
			CodeInvalidContainerSecurityContext, sc0 + ".seccompProfileType", "file on the node"},
		{"unknown type", nil, ctr(wire.ContainerSecurity{SeccompProfileType: "unconfined"}),
			CodeInvalidContainerSecurityContext, sc0 + ".seccompProfileType", "'unconfined'"},
		{"type beside a profile", &aci.SecurityContextDefinition{SeccompProfile: to.Ptr(base64.StdEncoding.EncodeToString([]byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`)))},
			ctr(wire.ContainerSecurity{SeccompProfileType: wire.SeccompUnconfined}),
			CodeInvalidContainerSecurityContext, sc0 + ".seccompProfileType", "both"},
		{"negative user", &aci.SecurityContextDefinition{RunAsUser: to.Ptr[int32](-1)}, wire.GroupExtensions{},
			CodeInvalidContainerSecurityContext, sc0 + ".runAsUser", "negative"},
		{"negative group", &aci.SecurityContextDefinition{RunAsGroup: to.Ptr[int32](-5)}, wire.GroupExtensions{},
			CodeInvalidContainerSecurityContext, sc0 + ".runAsGroup", "negative"},
		{"no such container", nil, wire.GroupExtensions{Security: map[string]wire.ContainerSecurity{"ghost": {RunAsNonRoot: true}}},
			CodeInvalidContainerSecurityContext, "properties.containers", "'ghost'"},
		{"too many groups", nil, pod(wire.PodSecurity{SupplementalGroups: many}),
			CodeInvalidPodSecurityContext, psc + ".supplementalGroups", "at most 64"},
		{"negative group id", nil, pod(wire.PodSecurity{SupplementalGroups: []int64{5, -1}}),
			CodeInvalidPodSecurityContext, psc + ".supplementalGroups[1]", "out of range"},
		{"group id too large", nil, pod(wire.PodSecurity{SupplementalGroups: []int64{1 << 31}}),
			CodeInvalidPodSecurityContext, psc + ".supplementalGroups[0]", "out of range"},
		{"Strict", nil, pod(wire.PodSecurity{SupplementalGroupsPolicy: wire.SupplementalGroupsStrict}),
			CodeInvalidPodSecurityContext, psc + ".supplementalGroupsPolicy", "not supported"},
		{"unknown policy", nil, pod(wire.PodSecurity{SupplementalGroupsPolicy: "Loose"}),
			CodeInvalidPodSecurityContext, psc + ".supplementalGroupsPolicy", "'Loose'"},
		{"unsafe sysctl", nil, sysctls(wire.Sysctl{Name: "kernel.core_pattern", Value: "|/bin/sh"}),
			CodeSysctlForbidden, psc + ".sysctls[0].name", "'kernel.core_pattern' is not allowed"},
		{"slashes", nil, sysctls(wire.Sysctl{Name: "kernel/shm_rmid_forced", Value: "1"}),
			CodeSysctlForbidden, psc + ".sysctls[0].name", "with dots"},
		{"a path", nil, sysctls(wire.Sysctl{Name: "../../proc/sysrq-trigger", Value: "b"}),
			CodeSysctlForbidden, psc + ".sysctls[0].name", "not allowed"},
		{"twice", nil, sysctls(wire.Sysctl{Name: "kernel.shm_rmid_forced", Value: "1"}, wire.Sysctl{Name: "kernel.shm_rmid_forced", Value: "0"}),
			CodeInvalidPodSecurityContext, psc + ".sysctls[1].name", "twice"},
		{"newline", nil, sysctls(wire.Sysctl{Name: "net.ipv4.tcp_syncookies", Value: "1\n0"}),
			CodeInvalidPodSecurityContext, psc + ".sysctls[0].value", "character"},
		{"empty value", nil, sysctls(wire.Sysctl{Name: "net.ipv4.tcp_syncookies"}),
			CodeInvalidPodSecurityContext, psc + ".sysctls[0].value", "empty"},
		{"too many", nil, sysctls(manySysctls...), CodeInvalidPodSecurityContext, psc + ".sysctls", "at most 32"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			err := ContainerGroup(withSecurity(tc.sc), testLoc, testLim, tc.ext)
			wantError(t, err, tc.code, tc.target)
			if !strings.Contains(err.Message, tc.msgHas) {
				t.Errorf("message %q lacks %q", err.Message, tc.msgHas)
			}
		})
	}
}
