package validate

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/wire"
)

// Startup probes and grpc actions, vnode's additions, are checked as ACI's
// probes are: one action, ports in range, no negative timing.
func TestStartupAndGRPCProbes(t *testing.T) {
	const at = "properties.containers[0].properties"
	withLiveness := func(p *aci.ContainerProbe) *aci.ContainerGroup {
		g := minimal()
		g.Properties.Containers[0].Properties.LivenessProbe = p
		return g
	}
	exec := &wire.ProbeExec{Command: []string{"true"}}
	valid := []struct {
		g   *aci.ContainerGroup
		ext wire.GroupExtensions
	}{
		{minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {Exec: exec, FailureThreshold: to.Ptr[int32](30)}}}},
		{minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {GRPC: &wire.GRPC{Port: 9000, Service: "db"}}}}},
		{minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {TCPSocket: &wire.TCPSocket{Port: 80}}}}},
		{minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {HTTPGet: &wire.ProbeHTTPGet{Path: "/", Port: 80}}}}},
		{withLiveness(&aci.ContainerProbe{}), wire.GroupExtensions{Probes: map[string]wire.Probes{"web": {LivenessGRPC: &wire.GRPC{Port: 9000}}}}},
	}
	for i, v := range valid {
		if err := ContainerGroup(v.g, testLoc, testLim, v.ext); err != nil {
			t.Errorf("valid %d: %v", i, err)
		}
	}
	cases := []struct {
		name   string
		g      *aci.ContainerGroup
		ext    wire.GroupExtensions
		target string
	}{
		{"startup without action", minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {}}}, at + ".startupProbe"},
		{"startup with two actions", minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {Exec: exec,
			GRPC: &wire.GRPC{Port: 1}}}}, at + ".startupProbe"},
		{"startup negative period", minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {Exec: exec,
			PeriodSeconds: to.Ptr[int32](-1)}}}, at + ".startupProbe.periodSeconds"},
		{"startup grpc port zero", minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {GRPC: &wire.GRPC{}}}},
			at + ".startupProbe.grpc.port"},
		{"liveness grpc port too large", withLiveness(&aci.ContainerProbe{}),
			wire.GroupExtensions{Probes: map[string]wire.Probes{"web": {LivenessGRPC: &wire.GRPC{Port: 65536}}}}, at + ".livenessProbe.grpc.port"},
		{"liveness grpc and exec", withLiveness(&aci.ContainerProbe{Exec: &aci.ContainerExec{Command: []*string{to.Ptr("true")}}}),
			wire.GroupExtensions{Probes: map[string]wire.Probes{"web": {LivenessGRPC: &wire.GRPC{Port: 9000}}}}, at + ".livenessProbe"},
		{"grpc service too long", minimal(), wire.GroupExtensions{StartupProbes: map[string]wire.Probe{"web": {
			GRPC: &wire.GRPC{Port: 9000, Service: strings.Repeat("s", maxGRPCService+1)}}}}, at + ".startupProbe.grpc.service"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, ContainerGroup(tc.g, testLoc, testLim, tc.ext), CodeInvalidContainerProbe, tc.target)
		})
	}
}
