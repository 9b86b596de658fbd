package cri

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// TestInitContainerFailures runs init containers that fail: under Never the
// group stops there, under Always the failing one is retried; the
// containers never start and wait as PodInitializing meanwhile.
func TestInitContainerFailures(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	group := func(id string, policy runtime.RestartPolicy, first, second string) runtime.GroupSpec {
		return runtime.GroupSpec{ID: id, Name: id, RestartPolicy: policy,
			InitContainers: []runtime.ContainerSpec{
				{Name: "init1", Image: w.shell, Command: []string{"/bin/sh", "-c", first}},
				{Name: "init2", Image: w.shell, Command: []string{"/bin/sh", "-c", second}}},
			Containers: []runtime.ContainerSpec{{Name: "run1", Image: w.shell, Command: []string{"/bin/sleep", "3600"}}}}
	}
	appWaits := func(id string) {
		t.Helper()
		c := state(t, r, id, "run1")
		if c.Current.State != runtime.StateWaiting || c.Current.DetailStatus != backend.ReasonPodInitializing {
			t.Fatalf("%s: run1 = %+v, want waiting as PodInitializing", id, c.Current)
		}
	}

	// Never: the second init container fails, nothing runs after it.
	if err := r.Run(ctx, group("g-never", runtime.RestartNever, "true", "exit 3")); err != nil {
		t.Fatalf("Run: %v", err)
	}
	appWaits("g-never")
	waitFor(t, "init2 to fail", func() (bool, string) {
		c := state(t, r, "g-never", "init2")
		return c.Current.State == runtime.StateTerminated && c.Current.ExitCode == 3, fmt.Sprint(c.Current)
	})
	if c := state(t, r, "g-never", "init1"); c.Current.State != runtime.StateTerminated || c.Current.ExitCode != 0 {
		t.Errorf("init1 = %+v, want succeeded", c.Current)
	}
	// Several polls later the container still has not started.
	for range 5 {
		r.pollOnce(ctx)
	}
	appWaits("g-never")
	if c := state(t, r, "g-never", "init2"); c.RestartCount != 0 {
		t.Errorf("init2 restarted %d times under Never", c.RestartCount)
	}

	// Always: the first init container is retried, the second never runs.
	if err := r.Run(ctx, group("g-always", runtime.RestartAlways, "exit 1", "true")); err != nil {
		t.Fatalf("Run: %v", err)
	}
	waitFor(t, "init1 to be retried", func() (bool, string) {
		c := state(t, r, "g-always", "init1")
		return c.RestartCount >= 1 && c.Previous != nil && c.Previous.ExitCode == 1, fmt.Sprint(c)
	})
	appWaits("g-always")
	if c := state(t, r, "g-always", "init2"); c.Current.State != runtime.StateWaiting {
		t.Errorf("init2 = %+v while init1 fails, want waiting", c.Current)
	}

	// A group whose init containers succeed starts its container after them.
	if err := r.Run(ctx, group("g-ok", runtime.RestartNever, "true", "true")); err != nil {
		t.Fatalf("Run: %v", err)
	}
	waitFor(t, "run1 to run after both init containers", func() (bool, string) {
		c := state(t, r, "g-ok", "run1")
		return c.Current.State == runtime.StateRunning, fmt.Sprint(c.Current)
	})
	// Each container reports its image by digest, as a kubelet's imageID.
	for _, name := range []string{"init1", "run1"} {
		if id := state(t, r, "g-ok", name).ImageID; !strings.Contains(id, "@sha256:") {
			t.Errorf("%s's image ID %q, want a digest reference", name, id)
		}
	}
	for _, id := range []string{"g-never", "g-always", "g-ok"} {
		if err := r.Remove(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// An init container that succeeded is never restarted, whatever the
// policy; one that failed is, unless the policy is Never.
func TestDueRestartOfInitContainers(t *testing.T) {
	r := &Runtime{o: Options{Clock: clocktesting.NewFakeClock(time.Now())}}
	for _, tc := range []struct {
		policy runtime.RestartPolicy
		code   int32
		want   bool
	}{
		{runtime.RestartAlways, 0, false}, {runtime.RestartOnFailure, 0, false}, {runtime.RestartNever, 0, false},
		{runtime.RestartAlways, 1, true}, {runtime.RestartOnFailure, 1, true}, {runtime.RestartNever, 1, false},
	} {
		g := &group{spec: runtime.GroupSpec{RestartPolicy: tc.policy}}
		c := &container{init: true, status: runtime.ContainerStatus{Current: runtime.ContainerState{
			State: runtime.StateTerminated, ExitCode: tc.code}}}
		if got := r.dueRestart(g, c); got != tc.want {
			t.Errorf("%s, exit %d: restart %v, want %v", tc.policy, tc.code, got, tc.want)
		}
	}
}

// A container that exited and waits out a back-off reads as the kubelet
// shows it: waiting with CrashLoopBackOff, the exit its previous state;
// not before a back-off is set, once it is over, or in a stopped group.
func TestShownDuringBackoff(t *testing.T) {
	now := time.Now()
	exited := runtime.ContainerState{State: runtime.StateTerminated, ExitCode: 3, Message: "bye"}
	c := &container{spec: runtime.ContainerSpec{Name: "app"}, status: runtime.ContainerStatus{Name: "app", Current: exited, RestartCount: 2},
		backoff: 20 * time.Second, nextStart: now.Add(5 * time.Second)}
	got := c.shown(now, false)
	if got.Current.State != runtime.StateWaiting || got.Current.DetailStatus != "CrashLoopBackOff" ||
		got.Current.Message != "back-off 20s restarting failed container=app" || got.Previous == nil ||
		*got.Previous != exited || got.RestartCount != 2 {
		t.Errorf("in back-off: %+v (previous %+v)", got, got.Previous)
	}
	if c.status.Current != exited || c.status.Previous != nil {
		t.Errorf("showing changed the container's own status: %+v", c.status)
	}
	for name, tc := range map[string]struct {
		c       *container
		now     time.Time
		stopped bool
	}{
		"back-off over":   {c, now.Add(5 * time.Second), false},
		"group stopped":   {c, now, true},
		"no back-off yet": {&container{status: runtime.ContainerStatus{Current: exited}}, now, false},
		"immediate restart": {&container{status: runtime.ContainerStatus{Current: exited}, nextStart: now.Add(time.Second)},
			now, false},
	} {
		if got := tc.c.shown(tc.now, tc.stopped); got.Current != exited || got.Previous != nil {
			t.Errorf("%s: %+v, want the exit as it is", name, got)
		}
	}
}
