package cri

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/containerd"
	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/sealer"
	"github.com/vnode-io/vnode/internal/registry"
	"github.com/vnode-io/vnode/internal/syncbuf"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// world is a registry with the project's images and a private containerd
// on a bridge of the test's own.
type world struct {
	dir               string
	seal              *sealer.Sealer
	reg               *registry.Registry
	d                 *containerd.Containerd
	hello, shell, bad string
}

func setup(t *testing.T) *world {
	t.Helper()
	framework.RequireContainerd(t, "git")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := &world{dir: t.TempDir(), seal: testSealer(t)}
	reg, refs := framework.StartImageRegistry(ctx, t, w.dir)
	w.reg, w.hello, w.shell = reg, refs.Hello, refs.Shell
	pause := refs.Pause
	w.bad = reg.Host() + "/vnode/inaccessible:1"
	bridge := fmt.Sprintf("vnc%d", os.Getpid()%100000)
	cni := filepath.Join(w.dir, "cni")
	if err := network.WriteCNIConfig(cni, network.Config{Name: "vnode-cri-test", Bridge: bridge,
		Subnet: "10.247.0.0/24", IPAMDir: filepath.Join(w.dir, "ipam")}); err != nil {
		t.Fatal(err)
	}
	framework.RemoveEmptyDirsAtEnd(t, "/run/containerd", "/run/containerd/s")
	framework.DeleteLinkAtEnd(t, bridge)
	d, err := containerd.Start(ctx, containerd.Config{Dir: filepath.Join(w.dir, "containerd"), SandboxImage: pause, CNIConfDir: cni})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Cleanup(context.Background()); err != nil {
			t.Errorf("containerd cleanup: %v", err)
		}
	})
	if _, err := d.ImageClient().PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: pause}}); err != nil {
		t.Fatal(err)
	}
	w.d = d
	return w
}

func (w *world) runtime(t *testing.T, opts ...func(*Options)) *Runtime {
	t.Helper()
	o := Options{Runtime: w.d.RuntimeClient(), Images: w.d.ImageClient(),
		Dir: filepath.Join(w.dir, "runtime"), StopTimeout: 2 * time.Second, PollInterval: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Sealer: w.seal}
	for _, opt := range opts {
		opt(&o)
	}
	r, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// testSealer is a sealer with a key of the test's own.
func testSealer(t testing.TB) *sealer.Sealer {
	t.Helper()
	s, err := sealer.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		ok, s := cond()
		if ok {
			return
		}
		last = s
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

func state(t *testing.T, r *Runtime, id, container string) runtime.ContainerStatus {
	t.Helper()
	st, err := r.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(st.InitContainers, st.Containers...) {
		if c.Name == container {
			return c
		}
	}
	t.Fatalf("no container %s in %+v", container, st)
	return runtime.ContainerStatus{}
}

func execOut(t *testing.T, r *Runtime, id, container string, cmd ...string) (string, int) {
	t.Helper()
	var out syncbuf.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := r.Exec(ctx, id, container, cmd, runtime.Streams{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	return out.String(), code
}

// events collects what a watcher receives.
type events struct {
	mu   sync.Mutex
	list []runtime.Event
}

func (e *events) add(u runtime.Update) {
	e.mu.Lock()
	e.list = append(e.list, u.Events...)
	e.mu.Unlock()
}

func (e *events) names(container string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.list {
		if ev.Container == container {
			out = append(out, ev.Name)
		}
	}
	return strings.Join(out, ",")
}

func TestGroupsOnContainerd(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	var seen events
	r.Watch(ctx, seen.add)

	web := runtime.GroupSpec{
		ID: "g-web", Name: "web", RestartPolicy: runtime.RestartAlways,
		Volumes: []runtime.Volume{{Name: "work", EmptyDir: true},
			{Name: "creds", Secret: map[string][]byte{"token": []byte("s3cret")}}},
		InitContainers: []runtime.ContainerSpec{{Name: "prepare", Image: w.shell,
			Command:      []string{"/bin/sh", "-c", "echo ready > /work/state"},
			VolumeMounts: []runtime.VolumeMount{{Name: "work", MountPath: "/work"}}}},
		Containers: []runtime.ContainerSpec{
			{Name: "hello", Image: w.hello, CPU: 0.5, MemoryInGB: 0.5, Ports: []runtime.Port{{Port: 80, Protocol: "TCP"}}},
			{Name: "side", Image: w.shell, CPU: 0.5, MemoryInGB: 0.5, Command: []string{"/bin/sleep", "3600"},
				Env: []runtime.EnvVar{{Name: "SECRET", Value: "v", Secure: true}},
				// A secret volume is read-only even where its mount
				// does not ask for it.
				VolumeMounts: []runtime.VolumeMount{{Name: "work", MountPath: "/work"},
					{Name: "creds", MountPath: "/creds"}}},
		},
		Ports: []runtime.Port{{Port: 80, Protocol: "TCP"}},
	}
	if err := r.Run(ctx, web); err != nil {
		t.Fatalf("Run: %v", err)
	}
	st, _ := r.Status(ctx, "g-web")
	if !strings.HasPrefix(st.IP, "10.247.0.") {
		t.Fatalf("group IP %q", st.IP)
	}
	waitFor(t, "the init container to succeed and the containers to run", func() (bool, string) {
		c := state(t, r, "g-web", "prepare")
		h, s := state(t, r, "g-web", "hello"), state(t, r, "g-web", "side")
		return c.Current.State == runtime.StateTerminated && c.Current.ExitCode == 0 &&
			h.Current.State == runtime.StateRunning && s.Current.State == runtime.StateRunning, fmt.Sprint(c.Current, h.Current, s.Current)
	})
	// Containers of a group share localhost, volumes and the init's work.
	waitFor(t, "side to reach hello over localhost", func() (bool, string) {
		out, code := execOut(t, r, "g-web", "side", "wget", "-q", "-O-", "http://127.0.0.1/")
		return code == 0 && strings.Contains(out, "vnode"), out
	})
	if out, _ := execOut(t, r, "g-web", "side", "cat", "/work/state", "/creds/token"); out != "ready\ns3cret" {
		t.Errorf("volumes seen by side: %q", out)
	}
	if out, _ := execOut(t, r, "g-web", "side", "stat", "-f", "-c", "%T", "/creds"); strings.TrimSpace(out) != "tmpfs" {
		t.Errorf("the secret volume's file system: %q, want tmpfs", out)
	}
	if out, _ := execOut(t, r, "g-web", "side", "sh", "-c", "echo $SECRET; touch /creds/x"); !strings.Contains(out, "v\n") ||
		!strings.Contains(out, "Read-only") {
		t.Errorf("env and read-only mount: %q", out)
	}
	if _, code := execOut(t, r, "g-web", "side", "sh", "-c", "exit 5"); code != 5 {
		t.Errorf("exec exit code %d, want 5", code)
	}
	waitFor(t, "hello's request in its log", func() (bool, string) {
		var buf bytes.Buffer
		if err := r.Logs(ctx, "g-web", "hello", runtime.LogOptions{Tail: 5}, &buf); err != nil {
			return false, err.Error()
		}
		return strings.Contains(buf.String(), "GET /"), buf.String()
	})
	if got := seen.names("hello"); !strings.HasPrefix(got, "Pulling,Pulled,Created,Started") {
		t.Errorf("hello's events: %s", got)
	}
	stats, err := r.Stats(ctx, "g-web")
	if err != nil || len(stats.Containers) != 2 || stats.Containers[0].MemoryWorkingSetBytes == 0 ||
		stats.Containers[0].MemoryUsageBytes < stats.Containers[0].MemoryWorkingSetBytes {
		t.Errorf("stats: %+v, %v", stats, err)
	}
	// The request to hello above came in over the group's interface.
	if n := stats.Network; n == nil || n.Interface != "eth0" || n.RxBytes == 0 || n.TxBytes == 0 {
		t.Errorf("network stats: %+v", n)
	}

	// Exits and restart policies.
	jobs := map[runtime.RestartPolicy]string{runtime.RestartNever: "g-never", runtime.RestartOnFailure: "g-onfailure"}
	for policy, id := range jobs {
		if err := r.Run(ctx, runtime.GroupSpec{ID: id, Name: id, RestartPolicy: policy, Containers: []runtime.ContainerSpec{
			{Name: "job", Image: w.shell, Command: []string{"/bin/sh", "-c", "echo run; exit 3"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the Never job to stay terminated with 3", func() (bool, string) {
		c := state(t, r, "g-never", "job")
		return c.Current.State == runtime.StateTerminated && c.Current.ExitCode == 3 && c.RestartCount == 0, fmt.Sprint(c)
	})
	waitFor(t, "the OnFailure job to be restarted", func() (bool, string) {
		c := state(t, r, "g-onfailure", "job")
		return c.RestartCount >= 1 && c.Previous != nil && c.Previous.ExitCode == 3, fmt.Sprint(c)
	})
	waitFor(t, "the OnFailure job to wait out its back-off as CrashLoopBackOff", func() (bool, string) {
		c := state(t, r, "g-onfailure", "job")
		return c.Current.State == runtime.StateWaiting && c.Current.DetailStatus == "CrashLoopBackOff" &&
			strings.HasPrefix(c.Current.Message, "back-off 10s restarting failed container=job") &&
			c.Previous != nil && c.Previous.State == runtime.StateTerminated && c.Previous.ExitCode == 3, fmt.Sprint(c)
	})
	var prev bytes.Buffer
	if err := r.Logs(ctx, "g-onfailure", "job", runtime.LogOptions{Previous: true}, &prev); err != nil || prev.String() != "run\n" {
		t.Errorf("previous run's log: %q, %v", prev.String(), err)
	}
	if err := r.Logs(ctx, "g-never", "job", runtime.LogOptions{Previous: true}, io.Discard); !errors.Is(err, runtime.ErrNoPreviousLog) {
		t.Errorf("previous log of a job never restarted: %v, want ErrNoPreviousLog", err)
	}

	// An OOM kill is reported as such; two groups reach each other by IP.
	if err := r.Run(ctx, runtime.GroupSpec{ID: "g-oom", Name: "oom", RestartPolicy: runtime.RestartNever,
		Containers: []runtime.ContainerSpec{{Name: "hog", Image: w.shell, MemoryInGB: 0.1,
			Command: []string{"/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=400M count=1"}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the memory hog to be OOM-killed", func() (bool, string) {
		c := state(t, r, "g-oom", "hog")
		return c.Current.State == runtime.StateTerminated && c.Current.DetailStatus == "OOMKilled", fmt.Sprint(c.Current)
	})
	webIP := func() string { st, _ := r.Status(ctx, "g-web"); return st.IP }()
	if err := r.Run(ctx, runtime.GroupSpec{ID: "g-client", Name: "client", Containers: []runtime.ContainerSpec{
		{Name: "c", Image: w.shell, Command: []string{"/bin/sleep", "3600"}}}}); err != nil {
		t.Fatal(err)
	}
	if out, code := execOut(t, r, "g-client", "c", "wget", "-q", "-O-", "http://"+webIP+"/healthz"); code != 0 || out != "ok\n" {
		t.Errorf("group to group by IP: %q exit %d", out, code)
	}

	// Args alone follow the image's entrypoint (the shell image's /bin/sh),
	// in init and main containers.
	if err := r.Run(ctx, runtime.GroupSpec{ID: "g-args", Name: "args", RestartPolicy: runtime.RestartNever,
		InitContainers: []runtime.ContainerSpec{{Name: "init", Image: w.shell, Args: []string{"-c", "echo init-args"}}},
		Containers:     []runtime.ContainerSpec{{Name: "main", Image: w.shell, Args: []string{"-c", "echo main-args; exit 7"}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the container of args alone to exit with 7", func() (bool, string) {
		c := state(t, r, "g-args", "main")
		return c.Current.State == runtime.StateTerminated && c.Current.ExitCode == 7, fmt.Sprint(c.Current)
	})
	for container, want := range map[string]string{"init": "init-args\n", "main": "main-args\n"} {
		var out bytes.Buffer
		if err := r.Logs(ctx, "g-args", container, runtime.LogOptions{}, &out); err != nil || out.String() != want {
			t.Errorf("log of %s run with args alone: %q, %v; want %q", container, out.String(), err, want)
		}
	}

	// A missing image fails the run and leaves nothing.
	err = r.Run(ctx, runtime.GroupSpec{ID: "g-bad", Name: "bad", Containers: []runtime.ContainerSpec{{Name: "x", Image: w.bad}}})
	var rerr *runtime.Error
	if !errors.As(err, &rerr) || rerr.Reason != runtime.ReasonImagePull {
		t.Errorf("missing image: %v", err)
	}
	if _, err := r.Status(ctx, "g-bad"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("a failed group was kept: %v", err)
	}

	// Stop releases the IP; Run deploys it anew; a new runtime re-attaches.
	if err := r.Stop(ctx, "g-web", 0); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Status(ctx, "g-web"); !st.Stopped || st.IP != "" || st.Containers[0].Current.State != runtime.StateTerminated {
		t.Errorf("after Stop: %+v", st)
	}
	if err := r.Run(ctx, web); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := w.runtime(t)
	waitFor(t, "the re-attached group to run", func() (bool, string) {
		c := state(t, r2, "g-web", "hello")
		return c.Current.State == runtime.StateRunning, fmt.Sprint(c)
	})
	if err := r2.Restart(ctx, "g-web"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "hello restarted in place", func() (bool, string) {
		c := state(t, r2, "g-web", "hello")
		return c.RestartCount == 1 && c.Current.State == runtime.StateRunning, fmt.Sprint(c)
	})

	for _, id := range []string{"g-web", "g-never", "g-onfailure", "g-oom", "g-client", "g-args"} {
		if err := r2.Remove(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	sbs, err := w.d.RuntimeClient().ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(sbs.Items) != 0 {
		t.Errorf("sandboxes left: %v %v", sbs, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(w.dir, "runtime", "groups")); len(entries) != 0 {
		t.Errorf("group directories left: %v", entries)
	}
}

func TestProbes(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	var seen events
	r.Watch(ctx, seen.add)
	spec := runtime.GroupSpec{ID: "g-probes", Name: "probes", RestartPolicy: runtime.RestartAlways,
		Containers: []runtime.ContainerSpec{
			{Name: "web", Image: w.hello, ReadinessProbe: &runtime.Probe{
				HTTPGet: &runtime.HTTPGetProbe{Path: "/healthz", Port: 80}, PeriodSeconds: 1}},
			{Name: "app", Image: w.shell, Command: []string{"/bin/sh", "-c", "touch /tmp/alive; exec sleep 3600"},
				ReadinessProbe: &runtime.Probe{Exec: []string{"test", "-f", "/tmp/ready"}, PeriodSeconds: 1, FailureThreshold: 1},
				LivenessProbe:  &runtime.Probe{Exec: []string{"test", "-f", "/tmp/alive"}, PeriodSeconds: 1, FailureThreshold: 2}},
		}}
	if err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web ready by its HTTP probe", func() (bool, string) {
		c := state(t, r, "g-probes", "web")
		return c.Ready, fmt.Sprint(c)
	})
	if c := state(t, r, "g-probes", "app"); c.Ready {
		t.Fatal("app is ready before its readiness probe passes")
	}
	// The readiness probe fails, then recovers.
	execOut(t, r, "g-probes", "app", "touch", "/tmp/ready")
	waitFor(t, "app ready once /tmp/ready exists", func() (bool, string) {
		c := state(t, r, "g-probes", "app")
		return c.Ready, fmt.Sprint(c)
	})
	// A failing liveness probe gets the container restarted.
	execOut(t, r, "g-probes", "app", "rm", "/tmp/alive")
	waitFor(t, "app restarted by its liveness probe", func() (bool, string) {
		c := state(t, r, "g-probes", "app")
		return c.RestartCount >= 1 && c.Current.State == runtime.StateRunning && !c.Ready, fmt.Sprint(c)
	})
	if got := seen.names("app"); !strings.Contains(got, "Unhealthy") || !strings.Contains(got, "Killing") {
		t.Errorf("app's events: %s", got)
	}
	// The results are counted across the restart, as the kubelet's
	// prober_probe_total.
	stats, err := r.Stats(ctx, "g-probes")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, c := range stats.Containers {
		for _, p := range c.Probes {
			counts[c.Name+" "+p.Probe+" "+p.Result] = p.Count
		}
	}
	for _, k := range []string{"web Readiness successful", "app Readiness successful", "app Liveness failed"} {
		if counts[k] == 0 {
			t.Errorf("no %s probes counted: %v", k, counts)
		}
	}
	if err := r.Remove(ctx, "g-probes", 0); err != nil {
		t.Fatal(err)
	}
}

func TestStopGrace(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	// The container takes about three seconds to shut down after SIGTERM.
	slow := []string{"/bin/sh", "-c", "trap 'sleep 3; exit 0' TERM; while true; do sleep 1; done"}
	for _, id := range []string{"g-short", "g-long"} {
		if err := r.Run(ctx, runtime.GroupSpec{ID: id, Name: id, RestartPolicy: runtime.RestartNever,
			Containers: []runtime.ContainerSpec{{Name: "slow", Image: w.shell, Command: slow}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both running", func() (bool, string) {
		a, b := state(t, r, "g-short", "slow"), state(t, r, "g-long", "slow")
		return a.Current.State == runtime.StateRunning && b.Current.State == runtime.StateRunning, fmt.Sprint(a, b)
	})
	if err := r.Stop(ctx, "g-short", time.Second); err != nil {
		t.Fatal(err)
	}
	if c := state(t, r, "g-short", "slow"); c.Current.ExitCode != 137 {
		t.Errorf("stopped with 1 s of grace: exit %d, want 137 (killed)", c.Current.ExitCode)
	}
	if err := r.Stop(ctx, "g-long", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if c := state(t, r, "g-long", "slow"); c.Current.ExitCode != 0 {
		t.Errorf("stopped with 30 s of grace: exit %d, want 0 (shut down by itself)", c.Current.ExitCode)
	}
	for _, id := range []string{"g-short", "g-long"} {
		if err := r.Remove(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
	}
}
