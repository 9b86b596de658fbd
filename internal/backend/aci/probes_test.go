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

// probePod has a container with a gRPC liveness probe and an httpGet
// startup probe.
func probePod(liveness *corev1.Probe) *backend.Workload {
	return &backend.Workload{Pod: testPod(corev1.Container{Name: "main", Image: "srv",
		Ports:         []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		LivenessProbe: liveness,
		StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/started", Port: intstr.FromString("http")}},
			InitialDelaySeconds: 2, PeriodSeconds: 1, FailureThreshold: 30},
	})}
}

func grpcProbe(port int32, service *string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port, Service: service}}, PeriodSeconds: 5, InitialDelaySeconds: 1}
}

// With the service's extensions, startup probes and grpc actions travel as
// vnode's additions.
func TestConvertStartupAndGRPCProbesWithExtensions(t *testing.T) {
	o := testOptions()
	o.startupProbe, o.grpcProbe = true, true
	s, err := convert(probePod(grpcProbe(9000, ptr("db"))), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.warnings) != 0 {
		t.Errorf("warnings %v", s.warnings)
	}
	want := wire.Probe{HTTPGet: &wire.ProbeHTTPGet{Path: "/started", Port: 8080}, InitialDelaySeconds: ptr[int32](2),
		PeriodSeconds: ptr[int32](1), FailureThreshold: ptr[int32](30)}
	if got := s.ext.StartupProbes["main"]; !reflect.DeepEqual(got, want) {
		t.Errorf("startup probe %+v, want %+v", got, want)
	}
	if got := s.ext.Probes["main"].LivenessGRPC; got == nil || *got != (wire.GRPC{Port: 9000, Service: "db"}) {
		t.Errorf("grpc action %+v", got)
	}
	live := s.group.Properties.Containers[0].Properties.LivenessProbe
	if live == nil || live.Exec != nil || live.HTTPGet != nil || *live.PeriodSeconds != 5 || *live.InitialDelaySeconds != 1 {
		t.Errorf("the grpc probe's timing %+v", live)
	}
	// A grpc startup probe travels whole.
	w := probePod(nil)
	w.Pod.Spec.Containers[0].StartupProbe = grpcProbe(9000, nil)
	s, err = convert(w, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ext.StartupProbes["main"]; got.GRPC == nil || got.GRPC.Port != 9000 || got.HTTPGet != nil || *got.PeriodSeconds != 5 {
		t.Errorf("grpc startup probe %+v", got)
	}
}

// Against Azure a startup probe holds the liveness probe back for as long
// as it would have given the container, and grpc probes are dropped; the
// pod is told about both.
func TestConvertStartupAndGRPCProbesOnAzure(t *testing.T) {
	exec := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, InitialDelaySeconds: 3}
	s, err := convert(probePod(exec), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	live := s.group.Properties.Containers[0].Properties.LivenessProbe
	// 3 s of its own, plus the startup probe's 2 s and 30 periods of 1 s.
	if live == nil || *live.InitialDelaySeconds != 35 || len(s.ext.StartupProbes) != 0 {
		t.Errorf("liveness %+v, additions %+v", live, s.ext.StartupProbes)
	}
	if len(s.warnings) != 1 || !strings.Contains(s.warnings[0], `startup probe of container "main" folded into its liveness probe, which waits 35s`) {
		t.Errorf("warnings %v", s.warnings)
	}

	s, err = convert(probePod(grpcProbe(9000, nil)), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if live := s.group.Properties.Containers[0].Properties.LivenessProbe; live != nil || len(s.ext.Probes) != 0 {
		t.Errorf("a grpc probe reached Azure: %+v, %+v", live, s.ext.Probes)
	}
	got := strings.Join(s.warnings, "\n")
	if !strings.Contains(got, `liveness probe of container "main" dropped: container instances have no grpc probes`) ||
		!strings.Contains(got, `startup probe of container "main" dropped: container instances have no startup probes`) {
		t.Errorf("warnings %v", s.warnings)
	}
}

// The service's "started" verdict makes a running container not started
// (and not ready) until its startup probe succeeds; without it a running
// container has started.
func TestStartedFromTheInstanceView(t *testing.T) {
	g := testGroup("Succeeded", cstate("Running", "", 0), nil)
	v := view{group: g, ready: map[string]bool{"main": true}, started: map[string]bool{"main": false}}
	if c := podState(v).Containers[0]; !c.StartupPending || c.Ready {
		t.Errorf("not started: %+v", c)
	}
	v.started["main"] = true
	if c := podState(v).Containers[0]; c.StartupPending || !c.Ready {
		t.Errorf("started: %+v", c)
	}
	v.started = nil
	if c := podState(v).Containers[0]; c.StartupPending || !c.Ready {
		t.Errorf("without the service's verdict: %+v", c)
	}
}

// The service's image IDs (digest references) become the containers'
// imageID; without them the image's name stands in.
func TestImageIDFromTheInstanceView(t *testing.T) {
	v := view{group: testGroup("Succeeded", cstate("Running", "", 0), nil)}
	if c := podState(v).Containers[0]; c.ImageID != "nginx" {
		t.Errorf("without the service's image ID: %q", c.ImageID)
	}
	v.imageIDs = map[string]string{"main": "docker.io/library/nginx@sha256:abc"}
	if c := podState(v).Containers[0]; c.ImageID != "docker.io/library/nginx@sha256:abc" {
		t.Errorf("image ID %q", c.ImageID)
	}
}
