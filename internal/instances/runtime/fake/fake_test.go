package fake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/syncbuf"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newTest returns a runtime on a fake clock at t0 (unless opts has a
// clock), closed when the test ends.
func newTest(t *testing.T, opts Options) (*Runtime, *clocktesting.FakeClock) {
	t.Helper()
	fc := clocktesting.NewFakeClock(t0)
	if opts.Clock == nil {
		opts.Clock = fc
	}
	r := New(opts)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r, fc
}

func ctr(name string, cmd ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{Name: name, Image: "img/" + name, Command: cmd, CPU: 1, MemoryInGB: 1}
}

func spec(id string, policy runtime.RestartPolicy, cs ...runtime.ContainerSpec) runtime.GroupSpec {
	return runtime.GroupSpec{ID: id, Name: id, RestartPolicy: policy, Containers: cs}
}

func mustRun(t *testing.T, r *Runtime, s runtime.GroupSpec) {
	t.Helper()
	if err := r.Run(context.Background(), s); err != nil {
		t.Fatalf("Run(%s): %v", s.ID, err)
	}
}

func status(t *testing.T, r *Runtime, id string) runtime.GroupStatus {
	t.Helper()
	s, err := r.Status(context.Background(), id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	return s
}

// cstatus returns the status of a group's container, init or main.
func cstatus(t *testing.T, r *Runtime, id, name string) runtime.ContainerStatus {
	t.Helper()
	s := status(t, r, id)
	for _, c := range slices.Concat(s.InitContainers, s.Containers) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("group %s has no container %s", id, name)
	return runtime.ContainerStatus{}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recorder records a watcher's updates and whether notify overlapped itself.
type recorder struct {
	inFlight atomic.Int32
	overlap  atomic.Bool
	// before, when set, runs at the start of every notify.
	before func(runtime.Update)

	mu      sync.Mutex
	updates []runtime.Update
}

func (rec *recorder) notify(u runtime.Update) {
	if rec.inFlight.Add(1) > 1 {
		rec.overlap.Store(true)
	}
	defer rec.inFlight.Add(-1)
	if rec.before != nil {
		rec.before(u)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.updates = append(rec.updates, u)
}

// watch registers rec (a new one when nil) until the test ends.
func watch(t *testing.T, r *Runtime, rec *recorder) *recorder {
	t.Helper()
	if rec == nil {
		rec = &recorder{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r.Watch(ctx, rec.notify)
	return rec
}

// events returns the group's events as "container/Name".
func (rec *recorder) events(id string) []string {
	var out []string
	for _, e := range rec.rawEvents(id) {
		out = append(out, e.Container+"/"+e.Name)
	}
	return out
}

func (rec *recorder) rawEvents(id string) []runtime.Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []runtime.Event
	for _, u := range rec.updates {
		if u.Status.ID == id {
			out = append(out, u.Events...)
		}
	}
	return out
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.updates)
}

// last returns the group's last update.
func (rec *recorder) last(id string) (runtime.Update, bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.updates) - 1; i >= 0; i-- {
		if rec.updates[i].Status.ID == id {
			return rec.updates[i], true
		}
	}
	return runtime.Update{}, false
}

func (rec *recorder) waitEvents(t *testing.T, id string, want []string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("events of %s to be %v", id, want), func() bool {
		return len(rec.events(id)) >= len(want)
	})
	if got := rec.events(id); !slices.Equal(got, want) {
		t.Fatalf("events of %s:\n got %v\nwant %v", id, got, want)
	}
}

// deploy returns the events of deploying containers.
func deploy(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, n+"/Pulling", n+"/Pulled", n+"/Created", n+"/Started")
	}
	return out
}

func prefixed(names []string, suffix string) []string {
	var out []string
	for _, n := range names {
		out = append(out, n+"/"+suffix)
	}
	return out
}

func TestRunEventOrderAndStatus(t *testing.T) {
	r, _ := newTest(t, Options{})
	rec := watch(t, r, nil)
	s := spec("g1", runtime.RestartAlways, ctr("web"), ctr("side"))
	s.InitContainers = []runtime.ContainerSpec{ctr("init")}
	mustRun(t, r, s)

	rec.waitEvents(t, "g1", deploy("init", "web", "side"))
	for _, e := range rec.rawEvents("g1") {
		if e.Type != "Normal" || !e.Time.Equal(t0) || e.Message == "" {
			t.Errorf("event %+v: want type Normal, time %v and a message", e, t0)
		}
	}
	if got, want := rec.rawEvents("g1")[0].Message, `pulling image "img/init"`; got != want {
		t.Errorf("Pulling message = %q, want %q", got, want)
	}
	st := status(t, r, "g1")
	if st.ID != "g1" || st.IP != "10.241.0.2" || st.Stopped {
		t.Errorf("status = %+v, want id g1, IP 10.241.0.2, not stopped", st)
	}
	init := st.InitContainers[0]
	if init.Current.State != runtime.StateTerminated || init.Current.ExitCode != 0 || init.Ready {
		t.Errorf("init container = %+v, want terminated with 0", init)
	}
	for _, c := range st.Containers {
		want := runtime.ContainerState{State: runtime.StateRunning, StartTime: t0}
		if c.Current != want || !c.Ready || c.RestartCount != 0 || c.Previous != nil {
			t.Errorf("container %+v: want running since t0 and ready", c)
		}
	}
	if r.Runs() != 1 {
		t.Errorf("Runs() = %d, want 1", r.Runs())
	}
}

func TestRunWithDelays(t *testing.T) {
	r, fc := newTest(t, Options{PullDelay: 5 * time.Second, StartDelay: 2 * time.Second})
	rec := watch(t, r, nil)
	mustRun(t, r, spec("g", runtime.RestartAlways, ctr("a"), ctr("b")))

	rec.waitEvents(t, "g", []string{"a/Pulling"})
	if c := cstatus(t, r, "g", "a"); c.Current.State != runtime.StateWaiting || c.Ready {
		t.Fatalf("a before pull = %+v, want waiting", c)
	}
	fc.Step(5 * time.Second)
	rec.waitEvents(t, "g", []string{"a/Pulling", "a/Pulled", "a/Created"})
	fc.Step(2 * time.Second)
	rec.waitEvents(t, "g", append(deploy("a"), "b/Pulling"))
	if c := cstatus(t, r, "g", "a"); c.Current.State != runtime.StateRunning || !c.Current.StartTime.Equal(t0.Add(7*time.Second)) {
		t.Fatalf("a = %+v, want running since t0+7s", c)
	}
	fc.Step(5 * time.Second)
	rec.waitEvents(t, "g", append(deploy("a"), "b/Pulling", "b/Pulled", "b/Created"))
	fc.Step(2 * time.Second)
	rec.waitEvents(t, "g", deploy("a", "b"))
	if c := cstatus(t, r, "g", "b"); !c.Current.StartTime.Equal(t0.Add(14 * time.Second)) {
		t.Fatalf("b = %+v, want running since t0+14s", c)
	}
}

func TestRunCachedImageIsNotPulled(t *testing.T) {
	r, _ := newTest(t, Options{PullDelay: time.Hour, CachedImages: []string{"img/a"}})
	rec := watch(t, r, nil)
	mustRun(t, r, spec("g", runtime.RestartAlways, ctr("a")))
	rec.waitEvents(t, "g", []string{"a/Pulled", "a/Created", "a/Started"})

	imgs, err := r.CachedImages(context.Background())
	if err != nil || !slices.Equal(imgs, []string{"img/a"}) {
		t.Fatalf("CachedImages = %v, %v", imgs, err)
	}
	imgs[0] = "changed"
	if imgs, _ := r.CachedImages(context.Background()); imgs[0] != "img/a" {
		t.Fatalf("CachedImages returned internal state")
	}
}

func TestRunIsIdempotent(t *testing.T) {
	r, _ := newTest(t, Options{})
	mustRun(t, r, spec("g", runtime.RestartAlways, ctr("a")))
	before := status(t, r, "g")
	rec := watch(t, r, nil)
	waitFor(t, "the initial update", func() bool { return rec.count() == 1 })

	mustRun(t, r, spec("g", runtime.RestartAlways, ctr("a")))
	mustRun(t, r, spec("g", runtime.RestartNever, ctr("other")))
	if r.Runs() != 1 {
		t.Errorf("Runs() = %d, want 1", r.Runs())
	}
	if after := status(t, r, "g"); !equalStatus(before, after) {
		t.Errorf("status changed by a repeated Run:\n%+v\n%+v", before, after)
	}
	// A later change arrives alone: the repeated Runs notified nothing.
	if err := r.ExitContainer("g", "a", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the exit's update", func() bool { return rec.count() >= 2 })
	if n := rec.count(); n != 2 {
		t.Errorf("got %d updates, want the initial one and the exit's", n)
	}
}

func equalStatus(a, b runtime.GroupStatus) bool {
	return fmt.Sprintf("%+v", deref(a)) == fmt.Sprintf("%+v", deref(b))
}

// deref replaces Previous pointers by values, for comparison.
func deref(s runtime.GroupStatus) any {
	var out []any
	for _, c := range slices.Concat(s.InitContainers, s.Containers) {
		var prev any
		if c.Previous != nil {
			prev = *c.Previous
		}
		out = append(out, c.Name, c.Current, prev, c.RestartCount, c.Ready)
	}
	return []any{s.ID, s.IP, s.Stopped, len(s.InitContainers), out}
}

func TestRunFailuresKeepNothing(t *testing.T) {
	injected := errors.New("injected")
	tests := []struct {
		name   string
		spec   runtime.GroupSpec
		fail   error
		reason string
		msg    string
	}{
		{name: "inaccessible image", spec: spec("g", "", runtime.ContainerSpec{Name: "a", Image: "reg.io/inaccessible:1"}),
			reason: runtime.ReasonImagePull, msg: `failed to pull image "reg.io/inaccessible:1": access denied or not found`},
		{name: "inaccessible init image", spec: func() runtime.GroupSpec {
			s := spec("g", "", ctr("a"))
			s.InitContainers = []runtime.ContainerSpec{{Name: "i", Image: "inaccessible"}}
			return s
		}(), reason: runtime.ReasonImagePull},
		{name: "no containers", spec: spec("g", ""), reason: runtime.ReasonInvalidSpec},
		{name: "no id", spec: spec("", "", ctr("a")), reason: runtime.ReasonInvalidSpec},
		{name: "duplicate names", spec: spec("g", "", ctr("a"), ctr("a")), reason: runtime.ReasonInvalidSpec},
		{name: "no image", spec: spec("g", "", runtime.ContainerSpec{Name: "a"}), reason: runtime.ReasonInvalidSpec},
		{name: "injected", spec: spec("g", "", ctr("a")), fail: injected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTest(t, Options{})
			rec := watch(t, r, nil)
			r.SetFailRun(tt.fail)
			err := r.Run(context.Background(), tt.spec)
			var rerr *runtime.Error
			switch {
			case tt.fail != nil:
				if !errors.Is(err, tt.fail) {
					t.Fatalf("Run = %v, want %v", err, tt.fail)
				}
			case !errors.As(err, &rerr) || rerr.Reason != tt.reason:
				t.Fatalf("Run = %v, want a runtime error with reason %s", err, tt.reason)
			case tt.msg != "" && rerr.Message != tt.msg:
				t.Fatalf("message = %q, want %q", rerr.Message, tt.msg)
			}
			if _, err := r.Status(context.Background(), tt.spec.ID); !errors.Is(err, runtime.ErrNotFound) {
				t.Fatalf("Status after a failed Run: %v, want ErrNotFound", err)
			}
			if l, _ := r.List(context.Background()); len(l) != 0 || r.Runs() != 0 {
				t.Fatalf("List = %v, Runs = %d after a failed Run", l, r.Runs())
			}
			// A fixed retry works and gets the first IP: none leaked.
			r.SetFailRun(nil)
			mustRun(t, r, spec("g", "", ctr("a")))
			if ip := status(t, r, "g").IP; ip != "10.241.0.2" {
				t.Fatalf("IP = %s, want 10.241.0.2", ip)
			}
			rec.waitEvents(t, "g", deploy("a"))
		})
	}
}

func TestRunFailureOnStoppedGroupKeepsIt(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	mustRun(t, r, spec("g", "", ctr("a")))
	if err := r.Stop(ctx, "g", 0); err != nil {
		t.Fatal(err)
	}
	before := status(t, r, "g")
	if err := r.Run(ctx, spec("g", "", runtime.ContainerSpec{Name: "a", Image: "inaccessible"})); err == nil {
		t.Fatal("Run with an inaccessible image succeeded")
	}
	if after := status(t, r, "g"); !equalStatus(before, after) {
		t.Fatalf("a failed Run changed a stopped group:\n%+v\n%+v", before, after)
	}
}

func TestCancelledContext(t *testing.T) {
	r, _ := newTest(t, Options{})
	mustRun(t, r, spec("g", "", ctr("a")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{
		"Run":     r.Run(ctx, spec("x", "", ctr("a"))),
		"Stop":    r.Stop(ctx, "g", 0),
		"Restart": r.Restart(ctx, "g"),
		"Remove":  r.Remove(ctx, "g", 0),
		"Logs":    r.Logs(ctx, "g", "a", runtime.LogOptions{}, io.Discard),
		"Attach":  r.Attach(ctx, "g", "a", runtime.Streams{}),
	}
	_, checks["Status"] = r.Status(ctx, "g")
	_, checks["List"] = r.List(ctx)
	_, checks["Stats"] = r.Stats(ctx, "g")
	_, checks["Exec"] = r.Exec(ctx, "g", "a", []string{"echo"}, runtime.Streams{})
	_, checks["CachedImages"] = r.CachedImages(ctx)
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", name, err)
		}
	}
	if _, err := r.Status(context.Background(), "x"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Status = %v, want ErrNotFound: a cancelled Run created the group", err)
	}
	if c := cstatus(t, r, "g", "a"); c.Current.State != runtime.StateRunning || c.RestartCount != 0 {
		t.Fatalf("%+v: calls with a cancelled context changed the group", c)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestOutputErrors(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	mustRun(t, r, spec("g", "", ctr("a")))
	if err := r.Logs(ctx, "g", "a", runtime.LogOptions{}, failingWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Logs to a failing writer = %v", err)
	}
	for _, cmd := range [][]string{{"echo", "x"}, {"cat"}} {
		_, err := r.Exec(ctx, "g", "a", cmd, runtime.Streams{Stdin: strings.NewReader("x"), Stdout: failingWriter{}})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("Exec(%v) to a failing writer = %v", cmd, err)
		}
	}
	_, err := r.Exec(ctx, "g", "a", []string{"sh"}, runtime.Streams{Stdin: strings.NewReader("echo x\n"), Stdout: failingWriter{}, TTY: true})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("interactive sh to a failing writer = %v", err)
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		policy   runtime.RestartPolicy
		cmd      []string
		step     time.Duration
		state    string
		code     int32
		detail   string
		restarts int32
		prevCode int32 // -1: no previous state
	}{
		{runtime.RestartNever, []string{"exit", "3"}, 0, runtime.StateTerminated, 3, "Error", 0, -1},
		{runtime.RestartNever, []string{"exit", "0"}, 0, runtime.StateTerminated, 0, "Completed", 0, -1},
		{runtime.RestartOnFailure, []string{"exit", "0"}, 0, runtime.StateTerminated, 0, "Completed", 0, -1},
		{runtime.RestartOnFailure, []string{"exit", "2"}, 0, runtime.StateWaiting, 0, "CrashLoopBackOff", 1, 2},
		{runtime.RestartAlways, []string{"exit", "0"}, 0, runtime.StateWaiting, 0, "CrashLoopBackOff", 1, 0},
		{"", []string{"/bin/sh", "-c", "exit 4"}, 0, runtime.StateWaiting, 0, "CrashLoopBackOff", 1, 4},
		{runtime.RestartNever, []string{"sleep", "10s"}, 0, runtime.StateRunning, 0, "", 0, -1},
		{runtime.RestartNever, []string{"sleep", "10s"}, 10 * time.Second, runtime.StateTerminated, 0, "Completed", 0, -1},
		{runtime.RestartOnFailure, []string{"sleep", "10"}, 10 * time.Second, runtime.StateTerminated, 0, "Completed", 0, -1},
		{runtime.RestartAlways, []string{"sleep", "1m"}, time.Minute, runtime.StateRunning, 0, "", 1, 0},
		{runtime.RestartNever, []string{"sleep", "bad"}, 0, runtime.StateTerminated, 1, "Error", 0, -1},
		{runtime.RestartNever, []string{"sleep", "infinity"}, time.Hour, runtime.StateRunning, 0, "", 0, -1},
		{runtime.RestartNever, []string{"echo", "hi"}, time.Hour, runtime.StateRunning, 0, "", 0, -1},
		{runtime.RestartNever, nil, time.Hour, runtime.StateRunning, 0, "", 0, -1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v after %v", tt.policy, tt.cmd, tt.step), func(t *testing.T) {
			r, fc := newTest(t, Options{})
			mustRun(t, r, spec("g", tt.policy, ctr("a", tt.cmd...)))
			if tt.step > 0 {
				fc.Step(tt.step)
			}
			want := func(c runtime.ContainerStatus) bool {
				return c.Current.State == tt.state && c.Current.ExitCode == tt.code &&
					c.Current.DetailStatus == tt.detail && c.RestartCount == tt.restarts
			}
			waitFor(t, "the container's state", func() bool { return want(cstatus(t, r, "g", "a")) })
			c := cstatus(t, r, "g", "a")
			switch {
			case tt.prevCode < 0 && c.Previous != nil:
				t.Errorf("Previous = %+v, want none", *c.Previous)
			case tt.prevCode >= 0 && (c.Previous == nil || c.Previous.State != runtime.StateTerminated || c.Previous.ExitCode != tt.prevCode):
				t.Errorf("Previous = %+v, want terminated with %d", c.Previous, tt.prevCode)
			}
			if tt.state == runtime.StateTerminated && !c.Current.FinishTime.Equal(t0.Add(tt.step)) {
				t.Errorf("FinishTime = %v, want %v", c.Current.FinishTime, t0.Add(tt.step))
			}
		})
	}
}

func TestBackOffSteps(t *testing.T) {
	r, fc := newTest(t, Options{})
	rec := watch(t, r, nil)
	mustRun(t, r, spec("g", runtime.RestartAlways, ctr("a", "exit", "1")))
	// The first restart is immediate; the second waits 10 s.
	c := cstatus(t, r, "g", "a")
	if c.RestartCount != 1 || c.Current.State != runtime.StateWaiting {
		t.Fatalf("after Run: %+v, want one restart then waiting", c)
	}
	want := append(deploy("a"), "a/Started", "a/BackOff")
	for i, d := range []time.Duration{10, 20, 40, 80, 160, 300, 300} {
		d *= time.Second
		fc.Step(d - time.Millisecond)
		if c := cstatus(t, r, "g", "a"); c.RestartCount != int32(i+1) {
			t.Fatalf("restarted %d times before its %v back-off ended", c.RestartCount, d)
		}
		fc.Step(time.Millisecond)
		waitFor(t, fmt.Sprintf("restart %d", i+2), func() bool {
			c := cstatus(t, r, "g", "a")
			return c.RestartCount == int32(i+2) && c.Current.State == runtime.StateWaiting
		})
		want = append(want, "a/Started", "a/BackOff")
	}
	rec.waitEvents(t, "g", want)
	backoffs := 0
	for _, e := range rec.rawEvents("g") {
		if e.Name == "BackOff" {
			backoffs++
			if e.Type != "Warning" {
				t.Errorf("BackOff event type %s, want Warning", e.Type)
			}
		}
	}
	if backoffs != 8 {
		t.Errorf("%d BackOff events, want 8", backoffs)
	}
	last := rec.rawEvents("g")[len(rec.rawEvents("g"))-1]
	if !strings.Contains(last.Message, "5m0s") {
		t.Errorf("last back-off message %q, want a 5m0s back-off", last.Message)
	}
}

func TestBackOffResetsAfterALongRun(t *testing.T) {
	r, fc := newTest(t, Options{})
	mustRun(t, r, spec("g", runtime.RestartOnFailure, ctr("a")))
	exit := func(code int32) {
		t.Helper()
		if err := r.ExitContainer("g", "a", code); err != nil {
			t.Fatal(err)
		}
	}
	exit(1) // immediate restart
	exit(1) // 10 s back-off
	if c := cstatus(t, r, "g", "a"); c.RestartCount != 1 || c.Current.State != runtime.StateWaiting {
		t.Fatalf("%+v, want waiting after one restart", c)
	}
	if err := r.ExitContainer("g", "a", 1); err == nil {
		t.Fatal("ExitContainer on a waiting container succeeded")
	}
	fc.Step(10 * time.Second)
	waitFor(t, "the restart", func() bool { return cstatus(t, r, "g", "a").RestartCount == 2 })
	fc.Step(10 * time.Minute)
	exit(1) // ran 10 min: restarts at once again
	if c := cstatus(t, r, "g", "a"); c.RestartCount != 3 || c.Current.State != runtime.StateRunning {
		t.Fatalf("%+v, want an immediate third restart", c)
	}
	exit(0) // OnFailure: success is final
	if c := cstatus(t, r, "g", "a"); c.Current.State != runtime.StateTerminated || c.RestartCount != 3 {
		t.Fatalf("%+v, want terminated", c)
	}
}

func TestInitContainers(t *testing.T) {
	withInit := func(policy runtime.RestartPolicy, cmd ...string) runtime.GroupSpec {
		s := spec("g", policy, ctr("main"))
		s.InitContainers = []runtime.ContainerSpec{ctr("init", cmd...), ctr("init2", "exit", "0")}
		return s
	}
	t.Run("run in order", func(t *testing.T) {
		r, fc := newTest(t, Options{})
		rec := watch(t, r, nil)
		mustRun(t, r, withInit(runtime.RestartAlways, "sleep", "5s"))
		rec.waitEvents(t, "g", deploy("init"))
		if c := cstatus(t, r, "g", "main"); c.Current.State != runtime.StateWaiting {
			t.Fatalf("main = %+v before its init containers ended", c)
		}
		fc.Step(5 * time.Second)
		rec.waitEvents(t, "g", deploy("init", "init2", "main"))
		if c := cstatus(t, r, "g", "init"); c.Current.State != runtime.StateTerminated || c.RestartCount != 0 {
			t.Fatalf("init = %+v, want terminated without restart", c)
		}
	})
	t.Run("failure with Never", func(t *testing.T) {
		r, _ := newTest(t, Options{})
		mustRun(t, r, withInit(runtime.RestartNever, "exit", "1"))
		if c := cstatus(t, r, "g", "init"); c.Current.ExitCode != 1 || c.Current.State != runtime.StateTerminated {
			t.Fatalf("init = %+v, want terminated with 1", c)
		}
		for _, name := range []string{"init2", "main"} {
			if c := cstatus(t, r, "g", name); c.Current.State != runtime.StateWaiting {
				t.Fatalf("%s = %+v, want waiting", name, c)
			}
		}
	})
	t.Run("failure with OnFailure retries", func(t *testing.T) {
		r, fc := newTest(t, Options{})
		mustRun(t, r, withInit(runtime.RestartOnFailure, "sleep", "infinity"))
		if err := r.ExitContainer("g", "init", 1); err != nil {
			t.Fatal(err)
		}
		if c := cstatus(t, r, "g", "init"); c.RestartCount != 1 || c.Current.State != runtime.StateRunning {
			t.Fatalf("init = %+v, want restarted", c)
		}
		if err := r.ExitContainer("g", "init", 1); err != nil {
			t.Fatal(err)
		}
		fc.Step(10 * time.Second)
		waitFor(t, "the init container's second restart", func() bool {
			return cstatus(t, r, "g", "init").RestartCount == 2
		})
		if err := r.ExitContainer("g", "init", 0); err != nil {
			t.Fatal(err)
		}
		if c := cstatus(t, r, "g", "main"); c.Current.State != runtime.StateRunning {
			t.Fatalf("main = %+v, want running", c)
		}
	})
}

func TestStopStartRestartRemove(t *testing.T) {
	r, fc := newTest(t, Options{})
	ctx := context.Background()
	rec := watch(t, r, nil)
	names := []string{"a", "b"}
	mustRun(t, r, spec("g", runtime.RestartNever, ctr("a"), ctr("b", "exit", "1")))
	want := deploy("a", "b")
	rec.waitEvents(t, "g", want)

	// Stop: the running container is killed, the exited one keeps its exit.
	fc.Step(time.Minute)
	for range 2 {
		if err := r.Stop(ctx, "g", 0); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	want = append(want, "a/Killing")
	rec.waitEvents(t, "g", want)
	st := status(t, r, "g")
	if !st.Stopped || st.IP != "" {
		t.Fatalf("stopped group = %+v, want stopped without IP", st)
	}
	a, b := st.Containers[0], st.Containers[1]
	if a.Current != (runtime.ContainerState{State: runtime.StateTerminated, StartTime: t0, FinishTime: t0.Add(time.Minute), DetailStatus: "Stopped"}) || a.Ready {
		t.Errorf("stopped container %+v", a)
	}
	if b.Current != (runtime.ContainerState{State: runtime.StateTerminated, StartTime: t0, FinishTime: t0, ExitCode: 1, DetailStatus: "Error"}) {
		t.Errorf("exited container after Stop %+v", b)
	}
	if err := r.Stop(ctx, "nope", 0); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Stop(missing) = %v, want ErrNotFound", err)
	}
	if err := r.Restart(ctx, "g"); err == nil || errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("Restart(stopped) = %v, want an error saying it is stopped", err)
	}
	if _, err := r.Exec(ctx, "g", "a", []string{"echo"}, runtime.Streams{}); err == nil || !strings.Contains(err.Error(), "container a is not running") {
		t.Errorf("Exec in a stopped group = %v, want not running", err)
	}

	// Start again: a fresh deployment.
	mustRun(t, r, spec("g", runtime.RestartAlways, ctr("a"), ctr("b")))
	want = append(want, deploy(names...)...)
	rec.waitEvents(t, "g", want)
	st = status(t, r, "g")
	if st.Stopped || st.IP != "10.241.0.2" || r.Runs() != 2 {
		t.Fatalf("restarted group = %+v, Runs %d", st, r.Runs())
	}
	for i, c := range st.Containers {
		if c.RestartCount != 0 || c.Current.State != runtime.StateRunning || c.Previous == nil ||
			*c.Previous != []runtime.ContainerState{a.Current, b.Current}[i] {
			t.Errorf("container after start %+v, want running, no restarts, the last state as previous", c)
		}
	}

	// Restart in place.
	fc.Step(time.Minute)
	if err := r.Restart(ctx, "g"); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	want = append(want, "a/Killing", "b/Killing", "a/Started", "b/Started")
	rec.waitEvents(t, "g", want)
	for _, c := range status(t, r, "g").Containers {
		p := c.Previous
		if c.RestartCount != 1 || !c.Current.StartTime.Equal(t0.Add(2*time.Minute)) || p == nil ||
			p.State != runtime.StateTerminated || !p.StartTime.Equal(t0.Add(time.Minute)) || !p.FinishTime.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("container after restart %+v (previous %+v)", c, p)
		}
	}
	if err := r.Restart(ctx, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Restart(missing) = %v, want ErrNotFound", err)
	}

	// Remove.
	for range 2 {
		if err := r.Remove(ctx, "g", 0); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	want = append(want, prefixed(names, "Killing")...)
	rec.waitEvents(t, "g", want)
	if u, _ := rec.last("g"); !u.Removed {
		t.Errorf("last update %+v, want Removed", u)
	}
	if _, err := r.Status(ctx, "g"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Remove = %v, want ErrNotFound", err)
	}
	mustRun(t, r, spec("h", "", ctr("a")))
	if ip := status(t, r, "h").IP; ip != "10.241.0.2" {
		t.Errorf("IP after Remove = %s, want the released 10.241.0.2", ip)
	}
}

func TestRestartBackingOffContainer(t *testing.T) {
	r, _ := newTest(t, Options{})
	mustRun(t, r, spec("g", runtime.RestartAlways, ctr("a", "exit", "1")))
	r.clock.(*clocktesting.FakeClock).Step(time.Second)
	prev := cstatus(t, r, "g", "a").Previous
	if err := r.Restart(context.Background(), "g"); err != nil {
		t.Fatal(err)
	}
	// exit 1 again: back-off was reset, so one immediate restart, then waiting.
	c := cstatus(t, r, "g", "a")
	if c.RestartCount != 3 || c.Current.State != runtime.StateWaiting || c.Previous == nil || c.Previous.ExitCode != 1 ||
		*c.Previous == *prev {
		t.Fatalf("%+v, want 3 restarts, waiting, previous a new exit", c)
	}
}

func TestRestartSkipsContainersNotStarted(t *testing.T) {
	r, _ := newTest(t, Options{PullDelay: time.Minute})
	rec := watch(t, r, nil)
	mustRun(t, r, spec("g", runtime.RestartAlways, ctr("a")))
	rec.waitEvents(t, "g", []string{"a/Pulling"})
	if err := r.Restart(context.Background(), "g"); err != nil {
		t.Fatal(err)
	}
	if c := cstatus(t, r, "g", "a"); c.RestartCount != 0 || c.Current.State != runtime.StateWaiting {
		t.Fatalf("%+v, want still being pulled", c)
	}
}

func TestIPAllocation(t *testing.T) {
	t.Run("runtime", func(t *testing.T) {
		r, _ := newTest(t, Options{Subnet: "10.9.8."})
		ctx := context.Background()
		for i := range 254 {
			mustRun(t, r, spec(fmt.Sprint(i), "", ctr("a")))
		}
		ip := func(id any) string { return status(t, r, fmt.Sprint(id)).IP }
		if ip(0) != "10.9.8.2" || ip(252) != "10.9.8.254" || ip(253) != "10.9.9.2" {
			t.Fatalf("IPs %s, %s, %s", ip(0), ip(252), ip(253))
		}
		if err := r.Stop(ctx, "5", 0); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove(ctx, "3", 0); err != nil {
			t.Fatal(err)
		}
		mustRun(t, r, spec("x", "", ctr("a")))
		mustRun(t, r, spec("5", "", ctr("a")))
		if ip("x") != "10.9.8.5" || ip(5) != "10.9.8.7" {
			t.Fatalf("reused IPs %s, %s, want the lowest free ones", ip("x"), ip(5))
		}
	})
	t.Run("exhaustion", func(t *testing.T) {
		p, err := newIPPool("10.9.254")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for range 2 * hostsPerBlock {
			ip, err := p.allocate()
			if err != nil || seen[ip] {
				t.Fatalf("allocate = %s, %v (seen: %v)", ip, err, seen[ip])
			}
			seen[ip] = true
		}
		_, err = p.allocate()
		var rerr *runtime.Error
		if !errors.As(err, &rerr) || rerr.Reason != runtime.ReasonCapacity {
			t.Fatalf("allocate past the /16 = %v, want a capacity error", err)
		}
		p.release("10.9.255.254")
		if ip, err := p.allocate(); ip != "10.9.255.254" || err != nil {
			t.Fatalf("allocate after release = %s, %v", ip, err)
		}
	})
	t.Run("invalid subnet", func(t *testing.T) {
		for _, s := range []string{"10.241.", "10.241.0.0.", "x.y.z.", "10.241.300."} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("New with subnet %q did not panic", s)
					}
				}()
				New(Options{Subnet: s})
			}()
		}
	})
}

func TestWatchDeliversEveryEventOnce(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	// One watcher is blocked until all changes are made, one calls back
	// into the runtime, one just records.
	release := make(chan struct{})
	blocked := watch(t, r, &recorder{before: func(runtime.Update) { <-release }})
	reentrant := watch(t, r, &recorder{before: func(u runtime.Update) {
		if _, err := r.List(ctx); err != nil {
			t.Errorf("List from notify: %v", err)
		}
	}})
	plain := watch(t, r, nil)

	ids := []string{"g1", "g2", "g3"}
	names := []string{"a", "b"}
	for _, id := range ids {
		mustRun(t, r, spec(id, runtime.RestartAlways, ctr("a"), ctr("b")))
		if err := r.Stop(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
		mustRun(t, r, spec(id, runtime.RestartAlways, ctr("a"), ctr("b")))
		if err := r.Restart(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	var want []string
	want = append(want, deploy(names...)...)
	want = append(want, prefixed(names, "Killing")...)
	want = append(want, deploy(names...)...)
	want = append(want, prefixed(names, "Killing")...)
	want = append(want, prefixed(names, "Started")...)
	want = append(want, prefixed(names, "Killing")...)
	for _, rec := range []*recorder{blocked, reentrant, plain} {
		for _, id := range ids {
			rec.waitEvents(t, id, want)
			if u, _ := rec.last(id); !u.Removed {
				t.Errorf("last update of %s = %+v, want Removed", id, u)
			}
		}
		if rec.overlap.Load() {
			t.Error("notify was called concurrently with itself")
		}
	}
}

func TestWatchInitialStatusAndCancel(t *testing.T) {
	r, _ := newTest(t, Options{})
	mustRun(t, r, spec("b", "", ctr("a")))
	mustRun(t, r, spec("a", "", ctr("a")))
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	r.Watch(ctx, rec.notify)
	waitFor(t, "the initial updates", func() bool { return rec.count() == 2 })
	rec.mu.Lock()
	first := rec.updates
	rec.mu.Unlock()
	if first[0].Status.ID != "a" || first[1].Status.ID != "b" || len(first[0].Events) != 0 || first[0].Status.Containers[0].Current.State != runtime.StateRunning {
		t.Fatalf("initial updates %+v, want each group's status without events", first)
	}
	cancel()
	waitFor(t, "the watcher to go", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.watchers) == 0
	})
	mustRun(t, r, spec("c", "", ctr("a")))
	if n := rec.count(); n != 2 {
		t.Fatalf("%d updates after cancel, want none", n-2)
	}
	// Watching with a done context registers nothing.
	r.Watch(ctx, rec.notify)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.watchers) != 0 {
		t.Fatal("Watch with a done context registered a watcher")
	}
}

func TestWatchKeepsRemovalAndRecreationApart(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	release := make(chan struct{})
	var once sync.Once
	rec := watch(t, r, &recorder{before: func(runtime.Update) { once.Do(func() { <-release }) }})
	mustRun(t, r, spec("x", "", ctr("a"))) // delivered first, blocks notify
	waitFor(t, "notify to block", func() bool { return rec.inFlight.Load() == 1 })
	if err := r.Remove(ctx, "x", 0); err != nil {
		t.Fatal(err)
	}
	mustRun(t, r, spec("x", "", ctr("b")))
	if err := r.Stop(ctx, "x", 0); err != nil {
		t.Fatal(err)
	}
	close(release)
	rec.waitEvents(t, "x", append(append(deploy("a"), "a/Killing"), append(deploy("b"), "b/Killing")...))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.updates) != 3 || !rec.updates[1].Removed || rec.updates[2].Removed || !rec.updates[2].Status.Stopped {
		t.Fatalf("updates %+v, want run, removal, then the new group's merged changes", rec.updates)
	}
}

func TestStatusIsACopy(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	s := spec("g", runtime.RestartAlways, ctr("a", "exit", "1"))
	mustRun(t, r, s)
	s.Containers[0].Command[1] = "0"
	s.Containers[0].Name = "renamed"
	before := status(t, r, "g")

	st := status(t, r, "g")
	st.Containers[0].Previous.ExitCode = 99
	st.Containers[0].RestartCount = 99
	l, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l[0].Containers[0].Previous.ExitCode = 98
	l[0].Containers = nil
	if after := status(t, r, "g"); !equalStatus(before, after) {
		t.Fatalf("status changed through a returned copy:\n%+v\n%+v", before, after)
	}
	if err := r.Restart(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if c := cstatus(t, r, "g", "a"); c.Previous.ExitCode != 1 {
		t.Fatalf("the caller's spec changed the container's command: %+v", c.Previous)
	}

	// Watchers get their own copies too.
	mutate := func(u runtime.Update) {
		for i := range u.Status.Containers {
			u.Status.Containers[i].Name = "mutated"
			if p := u.Status.Containers[i].Previous; p != nil {
				p.ExitCode = 97
			}
		}
		if len(u.Events) > 0 {
			u.Events[0].Name = "mutated"
		}
	}
	w1 := watch(t, r, &recorder{before: mutate})
	w2 := watch(t, r, &recorder{before: mutate})
	if err := r.ExitContainer("g", "a", 0); err == nil {
		t.Fatal("ExitContainer on a waiting container succeeded")
	}
	if err := r.Restart(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*recorder{w1, w2} {
		waitFor(t, "the restart's update", func() bool { return len(w.rawEvents("g")) > 0 })
	}
	if after := status(t, r, "g"); after.Containers[0].Name != "a" || after.Containers[0].Previous.ExitCode != 1 {
		t.Fatalf("a watcher changed the runtime's state: %+v", after)
	}
}

func TestLogs(t *testing.T) {
	r, fc := newTest(t, Options{})
	ctx := context.Background()
	s := spec("g", runtime.RestartAlways, ctr("a", "sh", "-c", "echo hello   'big world'"))
	s.InitContainers = []runtime.ContainerSpec{ctr("i", "echo", "prepared")}
	mustRun(t, r, s)
	fc.Step(1500 * time.Millisecond)
	if err := r.Restart(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	logs := func(name string, opts runtime.LogOptions) string {
		t.Helper()
		var b bytes.Buffer
		if err := r.Logs(ctx, "g", name, opts, &b); err != nil {
			t.Fatalf("Logs(%s, %+v): %v", name, opts, err)
		}
		return b.String()
	}
	// A restart starts a new log; the previous run's stays readable.
	run := "container a started\nhello big world\n"
	for _, tt := range []struct {
		opts runtime.LogOptions
		want string
	}{
		{runtime.LogOptions{}, run},
		{runtime.LogOptions{Tail: -1}, run},
		{runtime.LogOptions{Tail: 10}, run},
		{runtime.LogOptions{Tail: 1}, "hello big world\n"},
		{runtime.LogOptions{Tail: 2, Timestamps: true},
			"2026-01-02T03:04:06.5Z container a started\n2026-01-02T03:04:06.5Z hello big world\n"},
		{runtime.LogOptions{Previous: true, Timestamps: true},
			"2026-01-02T03:04:05Z container a started\n2026-01-02T03:04:05Z hello big world\n"},
		{runtime.LogOptions{Previous: true, Tail: 1}, "hello big world\n"},
		{runtime.LogOptions{Previous: true, Since: t0.Add(time.Second)}, ""},
		{runtime.LogOptions{Since: t0.Add(time.Second)}, run},
		{runtime.LogOptions{Since: t0.Add(2 * time.Second)}, ""},
	} {
		if got := logs("a", tt.opts); got != tt.want {
			t.Errorf("Logs(%+v) = %q, want %q", tt.opts, got, tt.want)
		}
	}
	if err := r.Logs(ctx, "g", "i", runtime.LogOptions{Previous: true}, io.Discard); !errors.Is(err, runtime.ErrNoPreviousLog) {
		t.Errorf("previous log of a container never restarted: %v, want ErrNoPreviousLog", err)
	}
	if got := logs("i", runtime.LogOptions{}); got != "container i started\nprepared\n" {
		t.Errorf("init container logs = %q", got)
	}
	if c := cstatus(t, r, "g", "i"); c.Current.State != runtime.StateTerminated || c.Current.ExitCode != 0 {
		t.Errorf("init container that echoed = %+v, want terminated with 0", c)
	}
	for _, tt := range [][2]string{{"nope", "a"}, {"g", "nope"}} {
		if err := r.Logs(ctx, tt[0], tt[1], runtime.LogOptions{}, io.Discard); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Logs(%s, %s) = %v, want ErrNotFound", tt[0], tt[1], err)
		}
	}
}

// A container runs its command followed by its args, or its args alone:
// the fake's images have no entrypoint.
func TestCommandAndArgs(t *testing.T) {
	r, _ := newTest(t, Options{})
	withCommand := ctr("a", "echo", "one")
	withCommand.Args = []string{"two"}
	argsOnly := ctr("b")
	argsOnly.Args = []string{"sh", "-c", "exit 4"}
	mustRun(t, r, spec("g", runtime.RestartNever, withCommand, argsOnly))
	var b bytes.Buffer
	if err := r.Logs(context.Background(), "g", "a", runtime.LogOptions{}, &b); err != nil || b.String() != "container a started\none two\n" {
		t.Errorf("log of command and args: %q, %v", b.String(), err)
	}
	if c := cstatus(t, r, "g", "b"); c.Current.State != runtime.StateTerminated || c.Current.ExitCode != 4 {
		t.Errorf("args alone: %+v, want terminated with 4", c.Current)
	}
}

func TestLogsAreCapped(t *testing.T) {
	c := &container{}
	for i := range maxLogLines + 5 {
		c.log(t0, fmt.Sprint(i))
	}
	if len(c.logs) != maxLogLines || c.logs[0].text != "5" {
		t.Fatalf("%d lines starting with %q, want %d starting with 5", len(c.logs), c.logs[0].text, maxLogLines)
	}
}

func TestExec(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	c := ctr("a")
	c.Env = []runtime.EnvVar{{Name: "ZED", Value: "z"}, {Name: "PASSWORD", Value: "s3cret", Secure: true}, {Name: "A", Value: "1=2"}}
	mustRun(t, r, spec("g", "", c))
	tests := []struct {
		cmd       []string
		stdin     string
		noStderr  bool
		code      int
		stdout    string
		stderr    string
		tty       bool
		errString string
	}{
		{cmd: []string{"echo", "hello", "world"}, stdout: "hello world\n"},
		{cmd: []string{"/bin/echo"}, stdout: "\n"},
		{cmd: []string{"exit", "5"}, code: 5},
		{cmd: []string{"exit"}},
		{cmd: []string{"exit", "300"}, code: 44},
		{cmd: []string{"exit", "x"}, code: 2},
		{cmd: []string{"sh", "-c", "exit 3"}, code: 3},
		{cmd: []string{"/bin/bash", "-c", `echo 'a  b' "c \"d\"" e\ f`}, stdout: "a  b c \"d\" e f\n"},
		{cmd: []string{"sh", "-c", ""}},
		{cmd: []string{"cat"}, stdin: "line 1\nline 2", stdout: "line 1\nline 2"},
		{cmd: []string{"cat"}},
		{cmd: []string{"env"}, stdout: "A=1=2\nPASSWORD=s3cret\nZED=z\n"},
		{cmd: []string{"sleep", "0"}},
		{cmd: []string{"sleep", "nope"}, code: 1, stderr: "sleep: invalid time interval \"nope\"\n"},
		{cmd: []string{"ls", "-l"}, code: 127, stderr: "fake: ls: command not found\n"},
		{cmd: []string{"ls"}, noStderr: true, code: 127, stdout: "fake: ls: command not found\n"},
		{cmd: []string{"/bin/sh"}, stdin: "echo hi\n\nsh -c 'exit 3'\r\necho there\n", stdout: "hi\nthere\n"},
		{cmd: []string{"sh"}, stdin: "ls\n", code: 127, stderr: "fake: ls: command not found\n"},
		{cmd: []string{"sh"}, stdin: "echo hi\rexit 4\recho never\r", tty: true, code: 4, stdout: "# hi\n# "},
		{cmd: []string{"sh"}},
		{cmd: []string{}, code: -1, errString: "empty command"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.cmd), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			s := runtime.Streams{Stdout: &stdout, Stderr: &stderr, TTY: tt.tty}
			if tt.stdin != "" {
				s.Stdin = strings.NewReader(tt.stdin)
			}
			if tt.noStderr {
				s.Stderr = nil
			}
			code, err := r.Exec(ctx, "g", "a", tt.cmd, s)
			if tt.errString != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errString) {
					t.Fatalf("Exec = %d, %v, want error %q", code, err, tt.errString)
				}
				return
			}
			if err != nil || code != tt.code || stdout.String() != tt.stdout || stderr.String() != tt.stderr {
				t.Fatalf("Exec = %d, %v, stdout %q, stderr %q; want %d, stdout %q, stderr %q",
					code, err, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	s := spec("g", runtime.RestartNever, ctr("a"), ctr("done", "exit", "0"))
	s.InitContainers = []runtime.ContainerSpec{ctr("i", "exit", "0")}
	mustRun(t, r, s)
	for _, tt := range [][2]string{{"nope", "a"}, {"g", "nope"}} {
		if _, err := r.Exec(ctx, tt[0], tt[1], []string{"echo"}, runtime.Streams{}); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Exec(%s, %s) = %v, want ErrNotFound", tt[0], tt[1], err)
		}
		if err := r.Attach(ctx, tt[0], tt[1], runtime.Streams{}); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Attach(%s, %s) = %v, want ErrNotFound", tt[0], tt[1], err)
		}
	}
	for _, name := range []string{"done", "i"} {
		_, err := r.Exec(ctx, "g", name, []string{"echo"}, runtime.Streams{})
		if err == nil || errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "container "+name+" is not running") {
			t.Errorf("Exec in %s = %v, want not running", name, err)
		}
		err = r.Attach(ctx, "g", name, runtime.Streams{})
		if err == nil || errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "is not running") {
			t.Errorf("Attach to %s = %v, want not running", name, err)
		}
	}
}

func TestExecEnds(t *testing.T) {
	r, fc := newTest(t, Options{})
	mustRun(t, r, spec("g", "", ctr("a")))
	type result struct {
		code int
		err  error
	}
	start := func(ctx context.Context, cmd []string, s runtime.Streams) <-chan result {
		done := make(chan result, 1)
		go func() {
			code, err := r.Exec(ctx, "g", "a", cmd, s)
			done <- result{code, err}
		}()
		return done
	}
	wait := func(done <-chan result) result {
		t.Helper()
		select {
		case res := <-done:
			return res
		case <-time.After(10 * time.Second):
			t.Fatal("exec did not end")
			return result{}
		}
	}

	t.Run("sleep on the clock", func(t *testing.T) {
		resize := make(chan runtime.TerminalSize)
		done := start(context.Background(), []string{"sleep", "5"}, runtime.Streams{TTY: true, Resize: resize})
		resize <- runtime.TerminalSize{Rows: 1, Cols: 2} // drained, never blocks
		waitFor(t, "the sleep's timer", func() bool { return fc.Waiters() == 1 })
		fc.Step(5 * time.Second)
		if res := wait(done); res.code != 0 || res.err != nil {
			t.Fatalf("sleep = %+v", res)
		}
	})
	t.Run("cancelled sleep", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := start(ctx, []string{"sleep", "1h"}, runtime.Streams{})
		waitFor(t, "the sleep's timer", func() bool { return fc.Waiters() == 1 })
		cancel()
		if res := wait(done); !errors.Is(res.err, context.Canceled) {
			t.Fatalf("cancelled sleep = %+v", res)
		}
		waitFor(t, "the timer to stop", func() bool { return fc.Waiters() == 0 })
	})
	t.Run("cancelled cat", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		var out syncbuf.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		done := start(ctx, []string{"cat"}, runtime.Streams{Stdin: pr, Stdout: &out})
		if _, err := pw.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the echo", func() bool { return out.String() == "ping" })
		cancel()
		if res := wait(done); !errors.Is(res.err, context.Canceled) {
			t.Fatalf("cancelled cat = %+v", res)
		}
	})
	t.Run("cancelled shell", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := start(ctx, []string{"sh"}, runtime.Streams{Stdin: pr})
		cancel()
		if res := wait(done); !errors.Is(res.err, context.Canceled) {
			t.Fatalf("cancelled shell = %+v", res)
		}
	})
	t.Run("container stops", func(t *testing.T) {
		catIn, catInW := io.Pipe()
		defer catInW.Close()
		shIn, shInW := io.Pipe()
		defer shInW.Close()
		var catOut, shOut syncbuf.Buffer
		dones := []<-chan result{
			start(context.Background(), []string{"cat"}, runtime.Streams{Stdin: catIn, Stdout: &catOut}),
			start(context.Background(), []string{"sh"}, runtime.Streams{Stdin: shIn, Stdout: &shOut}),
			start(context.Background(), []string{"sleep", "1h"}, runtime.Streams{}),
		}
		// Make sure each runs before the container stops.
		if _, err := io.WriteString(catInW, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(shInW, "echo y\n"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the execs to run", func() bool {
			return catOut.String() == "x" && shOut.String() == "y\n" && fc.Waiters() == 1
		})
		if err := r.Stop(context.Background(), "g", 0); err != nil {
			t.Fatal(err)
		}
		for _, done := range dones {
			if res := wait(done); res.err != nil || res.code != exitKilled {
				t.Fatalf("exec in a stopped container = %+v, want 137", res)
			}
		}
	})
}

func TestAttach(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	mustRun(t, r, spec("g", "", ctr("a")))
	attach := func(ctx context.Context, s runtime.Streams) <-chan error {
		done := make(chan error, 1)
		go func() { done <- r.Attach(ctx, "g", "a", s) }()
		return done
	}
	wait := func(done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("attach did not end")
			return nil
		}
	}

	// Echo until standard input ends.
	pr, pw := io.Pipe()
	var out syncbuf.Buffer
	done := attach(ctx, runtime.Streams{Stdin: pr, Stdout: &out, TTY: true})
	for _, msg := range []string{"hello\n", "again\n"} {
		if _, err := io.WriteString(pw, msg); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the echo", func() bool { return out.String() == "hello\nagain\n" })
	pw.Close()
	if err := wait(done); err != nil {
		t.Fatalf("Attach after EOF = %v", err)
	}

	// Until the context ends.
	cctx, cancel := context.WithCancel(ctx)
	done = attach(cctx, runtime.Streams{})
	cancel()
	if err := wait(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Attach = %v", err)
	}

	// Until the container's process ends.
	pr, pw = io.Pipe()
	defer pw.Close()
	var out2 syncbuf.Buffer
	done = attach(ctx, runtime.Streams{Stdin: pr, Stdout: &out2})
	if _, err := io.WriteString(pw, "x"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the echo", func() bool { return out2.String() == "x" })
	if err := r.Restart(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if err := wait(done); err != nil {
		t.Fatalf("Attach across a restart = %v", err)
	}
}

func TestStats(t *testing.T) {
	r, fc := newTest(t, Options{})
	ctx := context.Background()
	a, b := ctr("a"), ctr("b", "exit", "0")
	a.CPU = 1.5
	s := spec("g", runtime.RestartNever, a, b)
	s.InitContainers = []runtime.ContainerSpec{ctr("i", "exit", "0")}
	mustRun(t, r, s)
	fc.Step(10 * time.Second)
	st, err := r.Stats(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	want := runtime.GroupStats{Time: t0.Add(10 * time.Second), Containers: []runtime.ContainerStats{{
		Name: "a", CPUUsageNanoCores: 150_000_000, CPUUsageCoreNanoSeconds: 1_500_000_000, MemoryWorkingSetBytes: 32 << 20,
		MemoryUsageBytes: 36 << 20, MemoryRSSBytes: 16 << 20,
	}}}
	if !st.Time.Equal(want.Time) || !reflect.DeepEqual(st.Containers, want.Containers) {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	if n := st.Network; n == nil || *n != (runtime.NetworkStats{Interface: "eth0", RxBytes: 11 * 2 << 10, TxBytes: 11 * 1 << 10}) {
		t.Errorf("network = %+v", n)
	}
	if err := r.Stop(ctx, "g", 0); err != nil {
		t.Fatal(err)
	}
	if st, err := r.Stats(ctx, "g"); err != nil || len(st.Containers) != 0 {
		t.Fatalf("Stats of a stopped group = %+v, %v", st, err)
	}
	if _, err := r.Stats(ctx, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Stats(missing) = %v, want ErrNotFound", err)
	}
}

func TestClose(t *testing.T) {
	fc := clocktesting.NewFakeClock(t0)
	r := New(Options{Clock: fc, PullDelay: time.Minute})
	rec := &recorder{}
	r.Watch(context.Background(), rec.notify)
	mustRun(t, r, spec("g", "", ctr("a")))
	mustRun(t, r, spec("h", "", ctr("a"), ctr("b")))
	waitFor(t, "the updates", func() bool { return rec.count() == 2 })
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := fc.Waiters(); n != 0 {
		t.Fatalf("%d timers left after Close", n)
	}
	ctx := context.Background()
	checks := map[string]error{
		"Run":     r.Run(ctx, spec("x", "", ctr("a"))),
		"Stop":    r.Stop(ctx, "g", 0),
		"Restart": r.Restart(ctx, "g"),
		"Remove":  r.Remove(ctx, "g", 0),
		"Logs":    r.Logs(ctx, "g", "a", runtime.LogOptions{}, io.Discard),
		"Attach":  r.Attach(ctx, "g", "a", runtime.Streams{}),
	}
	_, checks["Status"] = r.Status(ctx, "g")
	_, checks["List"] = r.List(ctx)
	_, checks["Stats"] = r.Stats(ctx, "g")
	_, checks["Exec"] = r.Exec(ctx, "g", "a", []string{"echo"}, runtime.Streams{})
	checks["ExitContainer"] = r.ExitContainer("g", "a", 1)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	r.Watch(ctx, rec.notify)
	if n := rec.count(); n != 2 {
		t.Fatalf("%d updates after Close", n-2)
	}
}

func TestRealClock(t *testing.T) {
	r := New(Options{StartDelay: time.Millisecond})
	defer r.Close()
	mustRun(t, r, spec("g", runtime.RestartNever, ctr("a", "sleep", "20ms")))
	waitFor(t, "the container to end", func() bool {
		return cstatus(t, r, "g", "a").Current.State == runtime.StateTerminated
	})
	c := cstatus(t, r, "g", "a")
	if d := c.Current.FinishTime.Sub(c.Current.StartTime); d < 20*time.Millisecond || c.Current.ExitCode != 0 {
		t.Fatalf("%+v ran %v, want at least 20ms and exit 0", c, d)
	}
}

func TestConcurrentUse(t *testing.T) {
	r, fc := newTest(t, Options{StartDelay: time.Second})
	recs := []*recorder{watch(t, r, nil), watch(t, r, nil), watch(t, r, nil)}
	ids := []string{"g0", "g1", "g2", "g3"}
	ctx := context.Background()
	var workers sync.WaitGroup
	for w := range 4 {
		workers.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for range 300 {
				id := ids[rnd.IntN(len(ids))]
				concurrentOp(ctx, t, r, fc, rnd, id)
				goruntime.Gosched() // let timers fire between operations
			}
		})
	}
	workers.Wait()
	// Removing every group cancels its timers: nothing changes any more.
	// A watcher that got the sentinel group has got every earlier change.
	for _, id := range ids {
		if err := r.Remove(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, r, spec("sentinel", "", ctr("a")))
	for _, rec := range recs {
		waitFor(t, "the sentinel", func() bool { _, ok := rec.last("sentinel"); return ok })
	}
	for _, id := range ids {
		if u, ok := recs[0].last(id); ok && !u.Removed {
			t.Errorf("last update of %s = %+v, want Removed", id, u)
		}
		if a, b, c := recs[0].events(id), recs[1].events(id), recs[2].events(id); !slices.Equal(a, b) || !slices.Equal(a, c) {
			t.Errorf("watchers saw different events for %s:\n%v\n%v\n%v", id, a, b, c)
		}
	}
	for _, rec := range recs {
		if rec.overlap.Load() {
			t.Error("notify was called concurrently with itself")
		}
	}
}

// concurrentOp does one random operation on a group; errors that races
// make legitimate are ignored, others fail the test.
func concurrentOp(ctx context.Context, t *testing.T, r *Runtime, fc *clocktesting.FakeClock, rnd *rand.Rand, id string) {
	cmds := [][]string{nil, {"exit", "1"}, {"sleep", "2"}, {"echo", "x"}}
	var err error
	switch n := rnd.IntN(20); {
	case n < 3:
		err = r.Run(ctx, spec(id, runtime.RestartAlways, ctr("a", cmds[rnd.IntN(len(cmds))]...), ctr("b")))
	case n == 3:
		err = r.Stop(ctx, id, 0)
	case n == 4:
		err = r.Restart(ctx, id)
	case n == 5:
		err = r.Remove(ctx, id, 0)
	case n == 6:
		_, err = r.Status(ctx, id)
	case n == 7:
		_, err = r.List(ctx)
	case n == 8:
		err = r.Logs(ctx, id, "a", runtime.LogOptions{Tail: 2, Timestamps: true}, io.Discard)
	case n < 11:
		_, err = r.Exec(ctx, id, "b", []string{"sh", "-c", "echo hi"}, runtime.Streams{Stdout: io.Discard})
	case n < 13:
		err = r.ExitContainer(id, "b", 1)
		if err == nil {
			_, err = r.Stats(ctx, id)
		}
	default:
		fc.Step(time.Duration(rnd.IntN(2000)) * time.Millisecond)
	}
	if err != nil && !errors.Is(err, runtime.ErrNotFound) && !strings.Contains(err.Error(), "not running") &&
		!strings.Contains(err.Error(), "stopped") {
		t.Errorf("unexpected error: %v", err)
	}
}

func TestSplitShell(t *testing.T) {
	for in, want := range map[string][]string{
		``:                      nil,
		`  a   b  `:             {"a", "b"},
		`echo 'it''s' "a b"`:    {"echo", "its", "a b"},
		`a\ b c\\d`:             {"a b", `c\d`},
		`"x\"y\n" 'z\'`:         {`x"y\n`, `z\`},
		`'' ""`:                 {"", ""},
		"sleep\t5\nexit":        {"sleep", "5", "exit"},
		`"unterminated quote x`: {"unterminated quote x"},
	} {
		if got := splitShell(in); !slices.Equal(got, want) {
			t.Errorf("splitShell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSleepDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5": 5 * time.Second, "0.5": 500 * time.Millisecond, "1m30s": 90 * time.Second, "infinity": -1, "0": 0,
	} {
		if got, err := sleepDuration([]string{in}); got != want || err != nil {
			t.Errorf("sleepDuration(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range [][]string{nil, {"-1"}, {"x"}, {"-5s"}, {"NaN"}, {"Inf"}} {
		if _, err := sleepDuration(in); err == nil {
			t.Errorf("sleepDuration(%q) succeeded", in)
		}
	}
}
