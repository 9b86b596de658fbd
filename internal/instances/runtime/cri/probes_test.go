package cri

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// TestStartupProbeGatesTheOthers follows one container's probes on a fake
// clock: only the startup probe runs until it succeeds, its failures past
// the threshold kill the container with the kubelet's events, and once it
// succeeds the container has started and the other probes run.
func TestStartupProbeGatesTheOthers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	r := &Runtime{o: Options{Clock: clk}}
	exec := func() *runtime.Probe {
		return &runtime.Probe{Exec: []string{"true"}, PeriodSeconds: 1, FailureThreshold: 3}
	}
	c := &container{spec: runtime.ContainerSpec{Name: "app", StartupProbe: exec(), LivenessProbe: exec(), ReadinessProbe: exec()}}
	c.status.Current = runtime.ContainerState{State: runtime.StateRunning, StartTime: t0}
	c.setVerdicts(true)
	g := &group{mains: []*container{c}}
	if c.status.Started || c.status.Ready {
		t.Fatalf("a container with a startup probe is started=%v ready=%v before it ran", c.status.Started, c.status.Ready)
	}
	failed := errors.New("boom")
	for i := 1; i <= 3; i++ {
		d := r.dueProbes(c, clk.Now())
		if d != (dueSet{startup: true}) {
			t.Fatalf("round %d: due %+v, want the startup probe alone", i, d)
		}
		c.probes.running = false
		if kill := r.applyStartup(g, c, failed, clk.Now()); kill != (i == 3) {
			t.Fatalf("failure %d: kill = %v", i, kill)
		}
		if d := r.dueProbes(c, clk.Now()); d.any() {
			t.Fatalf("a probe is due again before its period: %+v", d)
		}
		clk.Step(time.Second)
	}
	var got []string
	for _, e := range g.pending {
		got = append(got, e.Name+": "+e.Message)
	}
	want := []string{"Unhealthy: Startup probe failed: boom", "Unhealthy: Startup probe failed: boom",
		"Unhealthy: Startup probe failed: boom", "Killing: Container app failed startup probe, will be restarted"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if g.pending[0].Name != backend.EventUnhealthy {
		t.Errorf("event reason %q", g.pending[0].Name)
	}

	// Success: started, not ready until the readiness probe says so, and
	// from now on liveness and readiness run, the startup probe no more.
	r.dueProbes(c, clk.Now())
	c.probes.running = false
	r.applyStartup(g, c, nil, clk.Now())
	if !c.status.Started || c.status.Ready {
		t.Fatalf("after the startup probe succeeded: started=%v ready=%v, want started, not ready", c.status.Started, c.status.Ready)
	}
	clk.Step(time.Second)
	if d := r.dueProbes(c, clk.Now()); d != (dueSet{live: true, ready: true}) {
		t.Fatalf("due %+v after start, want liveness and readiness", d)
	}
	// A container that stops is no longer started.
	c.setVerdicts(false)
	if c.status.Started || c.status.Ready {
		t.Error("a stopped container is still started or ready")
	}
	// Without a startup probe a running container has started at once.
	plain := &container{spec: runtime.ContainerSpec{Name: "plain"}}
	plain.setVerdicts(true)
	if !plain.status.Started || !plain.status.Ready {
		t.Error("a running container without probes is not started and ready")
	}
}

// TestGRPCProbe asks a real gRPC health server, and places that are not
// one, each within the probe's timeout.
func TestGRPCProbe(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	port := int32(lis.Addr().(*net.TCPAddr).Port)

	// A listener that accepts connections and never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mute.Close() })
	go func() {
		for {
			conn, err := mute.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
	mutePort := int32(mute.Addr().(*net.TCPAddr).Port)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := int32(closed.Addr().(*net.TCPAddr).Port)
	_ = closed.Close()

	const timeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name    string
		probe   runtime.GRPCProbe
		wantErr string
	}{
		{"serving server", runtime.GRPCProbe{Port: port}, ""},
		{"service not serving", runtime.GRPCProbe{Port: port, Service: "db"}, `service unhealthy (responded with "NOT_SERVING")`},
		{"unknown service", runtime.GRPCProbe{Port: port, Service: "nope"}, "NotFound"},
		{"nothing listening", runtime.GRPCProbe{Port: closedPort}, "health rpc to 127.0.0.1:" + strconv.Itoa(int(closedPort))},
		{"not a gRPC server", runtime.GRPCProbe{Port: mutePort}, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			began := time.Now()
			err := grpcProbe(context.Background(), "127.0.0.1", &tc.probe, timeout)
			if took := time.Since(began); took > timeout+time.Second {
				t.Errorf("the probe took %s, beyond its timeout of %s", took, timeout)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("probe failed: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("probe error %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}

// TestStartupAndGRPCProbesOnContainerd runs real containers: a startup
// probe that succeeds late holds back the container's start and readiness,
// one that keeps failing restarts the container, and gRPC probes ask the
// hello image's health service.
func TestStartupAndGRPCProbesOnContainerd(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	var seen events
	r.Watch(ctx, seen.add)
	startup := func(path string, failures int32) *runtime.Probe {
		return &runtime.Probe{Exec: []string{"test", "-f", path}, PeriodSeconds: 1, FailureThreshold: failures}
	}
	spec := runtime.GroupSpec{ID: "g-startup", Name: "startup", RestartPolicy: runtime.RestartAlways,
		Containers: []runtime.ContainerSpec{
			{Name: "late", Image: w.shell, Command: []string{"/bin/sh", "-c", "sleep 3; touch /tmp/started; exec sleep 3600"},
				StartupProbe: startup("/tmp/started", 30)},
			{Name: "never", Image: w.shell, Command: []string{"/bin/sleep", "3600"}, StartupProbe: startup("/tmp/never", 2)},
			{Name: "grpc-ready", Image: w.hello, Env: []runtime.EnvVar{{Name: "PORT", Value: "8080"}},
				ReadinessProbe: &runtime.Probe{GRPC: &runtime.GRPCProbe{Port: 8080}, PeriodSeconds: 1}},
			{Name: "grpc-live", Image: w.hello, Env: []runtime.EnvVar{{Name: "PORT", Value: "8081"}, {Name: "GRPC_NOT_SERVING", Value: "down"}},
				LivenessProbe: &runtime.Probe{GRPC: &runtime.GRPCProbe{Port: 8081, Service: "down"}, PeriodSeconds: 1, FailureThreshold: 2}},
		}}
	if err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "late running, not started", func() (bool, string) {
		c := state(t, r, "g-startup", "late")
		return c.Current.State == runtime.StateRunning && !c.Started && !c.Ready, fmt.Sprint(c)
	})
	waitFor(t, "late started and ready once its startup probe passes", func() (bool, string) {
		c := state(t, r, "g-startup", "late")
		return c.Started && c.Ready && c.RestartCount == 0, fmt.Sprint(c)
	})
	waitFor(t, "never restarted by its startup probe", func() (bool, string) {
		c := state(t, r, "g-startup", "never")
		return c.RestartCount >= 1 && !c.Started, fmt.Sprint(c)
	})
	waitFor(t, "grpc-ready ready by its gRPC readiness probe", func() (bool, string) {
		c := state(t, r, "g-startup", "grpc-ready")
		return c.Ready, fmt.Sprint(c)
	})
	waitFor(t, "grpc-live restarted by its gRPC liveness probe", func() (bool, string) {
		c := state(t, r, "g-startup", "grpc-live")
		return c.RestartCount >= 1, fmt.Sprint(c)
	})
	seen.mu.Lock()
	var startupFailed, killedNever, grpcUnhealthy bool
	for _, e := range seen.list {
		switch {
		case e.Container == "never" && e.Name == backend.EventUnhealthy && strings.HasPrefix(e.Message, "Startup probe failed: "):
			startupFailed = true
		case e.Container == "never" && e.Message == "Container never failed startup probe, will be restarted":
			killedNever = true
		case e.Container == "grpc-live" && e.Message == `Liveness probe failed: service unhealthy (responded with "NOT_SERVING")`:
			grpcUnhealthy = true
		}
	}
	seen.mu.Unlock()
	if !startupFailed || !killedNever || !grpcUnhealthy {
		t.Errorf("events: startup failed %v, killed %v, grpc unhealthy %v; all: %s", startupFailed, killedNever, grpcUnhealthy, seen.names("never")+" "+seen.names("grpc-live"))
	}
	if err := r.Remove(ctx, "g-startup", 0); err != nil {
		t.Fatal(err)
	}
}
