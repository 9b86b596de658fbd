package service

import (
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/wire"
)

// The security-context extension's fields reach the runtime's spec beside
// ACI's, for containers and init containers, and the group's supplemental
// groups and sysctls the group's.
func TestSecurityReachesTheRuntime(t *testing.T) {
	body := groupBody("local", "Never", 1, 1, "x")
	body.Properties.Containers[0].Properties.SecurityContext = &aci.SecurityContextDefinition{RunAsUser: to.Ptr[int32](1000)}
	body.Properties.InitContainers = []*aci.InitContainerDefinition{{Name: to.Ptr("init"),
		Properties: &aci.InitContainerPropertiesDefinition{Image: to.Ptr("busybox")}}}
	ext := wire.GroupExtensions{
		Security: map[string]wire.ContainerSecurity{
			"main": {RunAsNonRoot: true, ReadOnlyRootFilesystem: true},
			"init": {SeccompProfileType: wire.SeccompUnconfined}},
		PodSecurity: wire.PodSecurity{SupplementalGroups: []int64{5000},
			Sysctls: []wire.Sysctl{{Name: "net.ipv4.tcp_syncookies", Value: "0"}}},
	}
	spec, err := runtimeSpec("uid", "g", "id", body, &secretValues{}, ext)
	if err != nil {
		t.Fatal(err)
	}
	uid := int64(1000)
	if got, want := spec.Containers[0].SecurityContext, (&runtime.SecurityContext{RunAsUser: &uid, RunAsNonRoot: true,
		ReadOnlyRootFilesystem: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("container's security context %+v, want %+v", got, want)
	}
	if got := spec.InitContainers[0].SecurityContext; got == nil || got.SeccompProfileType != wire.SeccompUnconfined {
		t.Errorf("init container's security context %+v", got)
	}
	if !reflect.DeepEqual(spec.SupplementalGroups, []int64{5000}) ||
		!reflect.DeepEqual(spec.Sysctls, map[string]string{"net.ipv4.tcp_syncookies": "0"}) {
		t.Errorf("group's groups %v and sysctls %v", spec.SupplementalGroups, spec.Sysctls)
	}
	if spec, _ := runtimeSpec("uid", "g", "id", groupBody("local", "Never", 1, 1, "x"), &secretValues{}, wire.GroupExtensions{}); spec.Containers[0].SecurityContext != nil || spec.Sysctls != nil {
		t.Errorf("without additions: %+v", spec)
	}
}

// A waiting container's message (why its configuration is wanting) is an
// addition to its instance view, as a terminated one's is.
func TestWaitingMessages(t *testing.T) {
	st := runtime.GroupStatus{Containers: []runtime.ContainerStatus{
		{Name: "a", Current: runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: "CreateContainerConfigError", Message: "no"}},
		{Name: "b", Current: runtime.ContainerState{State: runtime.StateRunning}},
	}}
	if got := messages(st); !reflect.DeepEqual(got, map[string]wire.StateMessages{"a": {Current: "no"}}) {
		t.Errorf("messages %+v", got)
	}
}
