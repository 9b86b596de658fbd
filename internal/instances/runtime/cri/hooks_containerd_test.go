package cri

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/syncbuf"
)

// On containerd: a postStart exec hook runs in the container, which counts
// as started only after it, and httpGet hooks reach another group by its IP from
// the group's network namespace, never a port that only the host has; a
// failing postStart hook gives its event and the container restarts; a
// failed liveness probe runs the preStop hook; on removal the preStop
// hooks run before the stop signal, and one that fails gives its event.
func TestHooksOnContainerd(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	var seen events
	r.Watch(ctx, seen.add)

	// A port on the host's loopback that no hook may reach.
	var hostHits atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hostHits.Add(1) }), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	hostPort := int32(ln.Addr().(*net.TCPAddr).Port)

	handler := runtime.GroupSpec{ID: "g-handler", Name: "handler", RestartPolicy: runtime.RestartAlways,
		Containers: []runtime.ContainerSpec{{Name: "web", Image: w.hello}}}
	if err := r.Run(ctx, handler); err != nil {
		t.Fatal(err)
	}
	st, err := r.Status(ctx, "g-handler")
	if err != nil || st.IP == "" {
		t.Fatalf("handler: %+v, %v", st, err)
	}
	handlerIP := st.IP
	get := func(host string, port int32, path string) *runtime.Hook {
		return &runtime.Hook{HTTPGet: &runtime.HTTPGetHook{Host: host, Port: port, Path: path}}
	}
	sh := func(name, script string, l *runtime.Lifecycle) runtime.ContainerSpec {
		return runtime.ContainerSpec{Name: name, Image: w.shell, Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; " + script + " & wait"}, Lifecycle: l}
	}
	grace := 20 * time.Second
	hooked := runtime.GroupSpec{ID: "g-hooked", Name: "hooked", RestartPolicy: runtime.RestartAlways, GracePeriod: &grace,
		Containers: []runtime.ContainerSpec{
			sh("exec", "sleep 3600", &runtime.Lifecycle{
				PostStart: &runtime.Hook{Exec: []string{"/bin/sh", "-c", "echo from the hook > /tmp/started"}},
				PreStop:   get(handlerIP, 80, "/prestop")}),
			sh("http", "sleep 3600", &runtime.Lifecycle{PostStart: get(handlerIP, 80, "/poststart")}),
			sh("host", "sleep 3600", &runtime.Lifecycle{PostStart: get("127.0.0.1", hostPort, "/host")}),
			sh("bad", "sleep 3600", &runtime.Lifecycle{PostStart: &runtime.Hook{Exec: []string{"false"}}}),
			sh("badstop", "sleep 3600", &runtime.Lifecycle{PreStop: &runtime.Hook{Exec: []string{"false"}}}),
		}}
	live := sh("live", "sleep 3600", &runtime.Lifecycle{PreStop: get(handlerIP, 80, "/liveness")})
	live.LivenessProbe = &runtime.Probe{Exec: []string{"false"}, PeriodSeconds: 1, FailureThreshold: 1}
	hooked.Containers = append(hooked.Containers, live)
	// While its postStart hook runs, a container is created, not started.
	slow := runtime.GroupSpec{ID: "g-slow", Name: "slow", RestartPolicy: runtime.RestartAlways, Containers: []runtime.ContainerSpec{
		sh("main", "sleep 3600", &runtime.Lifecycle{PostStart: &runtime.Hook{Exec: []string{"sleep", "2"}}})}}
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx, slow) }()
	waitFor(t, "the container to start and wait for its hook", func() (bool, string) {
		return strings.Contains(seen.names("main"), backend.EventStarted), seen.names("main")
	})
	if c := state(t, r, "g-slow", "main"); c.Current.State != runtime.StateWaiting || c.Ready {
		t.Errorf("during its postStart hook: %+v", c)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if c := state(t, r, "g-slow", "main"); c.Current.State != runtime.StateRunning || !c.Ready {
		t.Errorf("after its postStart hook: %+v", c)
	}
	if err := r.Remove(ctx, "g-slow", 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx, hooked); err != nil {
		t.Fatal(err)
	}
	if out, code := execOut(t, r, "g-hooked", "exec", "cat", "/tmp/started"); code != 0 || out != "from the hook\n" {
		t.Errorf("the postStart hook's file: %q, exit %d", out, code)
	}
	if c := state(t, r, "g-hooked", "http"); c.Current.State != runtime.StateRunning || !c.Ready {
		t.Errorf("a container whose hook succeeded: %+v", c)
	}
	waitFor(t, "the bad postStart hook's event and a restart", func() (bool, string) {
		c := state(t, r, "g-hooked", "bad")
		names := seen.names("bad")
		return strings.Contains(names, backend.EventFailedPostStartHook) && c.RestartCount >= 1, names + " " + strconv.Itoa(int(c.RestartCount))
	})
	// Host 127.0.0.1 is the group's own loopback, where nothing listens.
	waitFor(t, "the hook to the host's port to fail", func() (bool, string) {
		c := state(t, r, "g-hooked", "host")
		return c.RestartCount >= 1, seen.names("host")
	})
	waitFor(t, "the preStop hook of a container that failed its liveness probe", func() (bool, string) {
		var log syncbuf.Buffer
		err := r.Logs(ctx, "g-handler", "web", runtime.LogOptions{}, &log)
		return err == nil && strings.Contains(log.String(), "GET /liveness"), log.String()
	})
	if n := hostHits.Load(); n != 0 {
		t.Errorf("a hook reached a port of the host's loopback %d times", n)
	}
	began := time.Now()
	if err := r.Remove(ctx, "g-hooked", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(seen.names("exec"), backend.EventFailedPreStopHook) || !strings.Contains(seen.names("badstop"), backend.EventFailedPreStopHook) {
		t.Errorf("preStop events: exec %s, badstop %s", seen.names("exec"), seen.names("badstop"))
	}
	if d := time.Since(began); d > 15*time.Second {
		t.Errorf("the removal took %s: the containers were not stopped at once", d)
	}
	var log syncbuf.Buffer
	if err := r.Logs(ctx, "g-handler", "web", runtime.LogOptions{}, &log); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"GET /poststart", "GET /prestop"} {
		if !strings.Contains(log.String(), path) {
			t.Errorf("the handler's log lacks %q:\n%s", path, log.String())
		}
	}
	if err := r.Remove(ctx, "g-handler", 0); err != nil {
		t.Fatal(err)
	}
}
