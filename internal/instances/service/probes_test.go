package service

import (
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/wire"
)

// Startup probes and grpc actions, vnode's additions, reach the runtime's
// container spec with their timing; a container's started verdict comes
// back as an addition of its instance view.
func TestStartupAndGRPCProbesReachTheRuntime(t *testing.T) {
	body := groupBody("local", "Always", 1, 1, "x")
	p := body.Properties.Containers[0].Properties
	p.LivenessProbe = &aci.ContainerProbe{PeriodSeconds: to.Ptr[int32](2)}
	p.ReadinessProbe = &aci.ContainerProbe{Exec: &aci.ContainerExec{Command: []*string{to.Ptr("true")}}}
	name := *body.Properties.Containers[0].Name
	ext := wire.GroupExtensions{
		Probes: map[string]wire.Probes{name: {LivenessGRPC: &wire.GRPC{Port: 9000, Service: "db"}}},
		StartupProbes: map[string]wire.Probe{name: {HTTPGet: &wire.ProbeHTTPGet{Path: "/started", Port: 80,
			HTTPHeaders: []wire.HTTPHeader{{Name: "X", Value: "1"}}}, PeriodSeconds: to.Ptr[int32](1), FailureThreshold: to.Ptr[int32](30)}},
	}
	spec, err := runtimeSpec("uid", "g", "id", body, &secretValues{}, ext)
	if err != nil {
		t.Fatal(err)
	}
	c := spec.Containers[0]
	wantLive := &runtime.Probe{GRPC: &runtime.GRPCProbe{Port: 9000, Service: "db"}, PeriodSeconds: 2}
	wantStartup := &runtime.Probe{HTTPGet: &runtime.HTTPGetProbe{Path: "/started", Port: 80, Scheme: "HTTP",
		Headers: map[string]string{"X": "1"}}, PeriodSeconds: 1, FailureThreshold: 30}
	if !reflect.DeepEqual(c.LivenessProbe, wantLive) || !reflect.DeepEqual(c.StartupProbe, wantStartup) {
		t.Errorf("liveness %+v, startup %+v; want %+v, %+v", c.LivenessProbe, c.StartupProbe, wantLive, wantStartup)
	}
	if c.ReadinessProbe == nil || len(c.ReadinessProbe.Exec) != 1 || c.ReadinessProbe.GRPC != nil {
		t.Errorf("readiness %+v", c.ReadinessProbe)
	}

	g := &group{ext: ext, status: runtime.GroupStatus{Containers: []runtime.ContainerStatus{{Name: name, Started: true}}}}
	if a := additionsLocked(g); !a.Started[name] || a.Ready[name] {
		t.Errorf("additions started %v ready %v, want started, not ready", a.Started, a.Ready)
	}
	g.status.InitContainers = []runtime.ContainerStatus{{Name: "init", ImageID: "busybox@sha256:1"}}
	g.status.Containers[0].ImageID = "x@sha256:2"
	if a := additionsLocked(g); a.ImageIDs["init"] != "busybox@sha256:1" || a.ImageIDs[name] != "x@sha256:2" {
		t.Errorf("image IDs %v", a.ImageIDs)
	}
	g.stopped = true
	if a := additionsLocked(g); a.Started[name] {
		t.Error("a stopped group's container has started")
	}
}
