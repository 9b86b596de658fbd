package fake

import (
	"context"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// withTermination gives a container its termination message path and policy.
func withTermination(c runtime.ContainerSpec, path, policy string) runtime.ContainerSpec {
	c.TerminationMessagePath, c.TerminationMessagePolicy = path, policy
	return c
}

// A container's termination message is what it wrote to its file, or the
// tail of its log when it failed under FallbackToLogsOnError; a restart
// keeps the message of the run before as the previous state's.
func TestTerminationMessages(t *testing.T) {
	r, fc := newTest(t, Options{})
	const path = "/dev/termination-log"
	s := spec("g", runtime.RestartOnFailure,
		withTermination(ctr("fails", "exit", "3"), path, runtime.TerminationMessageFallbackToLogsOnError),
		withTermination(ctr("plain", "exit", "4"), path, runtime.TerminationMessageFile),
		withTermination(ctr("runs", "sh", "-c", "echo -n bye > "+path), path, ""))
	s.InitContainers = []runtime.ContainerSpec{
		withTermination(ctr("done", "sh", "-c", "echo DONE > /tmp/done"), "/tmp/done", ""),
		withTermination(ctr("elsewhere", "echo", "lost", ">", "/tmp/other"), "/tmp/done", "")}
	mustRun(t, r, s)
	if c := cstatus(t, r, "g", "done"); c.Current.State != runtime.StateTerminated || c.Current.Message != "DONE\n" {
		t.Errorf("init container that wrote its file: %+v", c.Current)
	}
	if c := cstatus(t, r, "g", "elsewhere"); c.Current.Message != "" {
		t.Errorf("init container that wrote another file: %+v", c.Current)
	}
	if c := cstatus(t, r, "g", "fails"); c.Previous == nil || c.Previous.Message != "container fails started\n" {
		t.Errorf("failed container under FallbackToLogsOnError: %+v", c)
	}
	if c := cstatus(t, r, "g", "plain"); c.Previous == nil || c.Previous.ExitCode != 4 || c.Previous.Message != "" {
		t.Errorf("failed container under File: %+v", c)
	}
	fc.Step(backoffInitial)
	if c := cstatus(t, r, "g", "fails"); c.RestartCount != 1 || c.Previous.Message != "container fails started\n" {
		t.Errorf("after a restart: %+v", c)
	}
	if err := r.Stop(context.Background(), "g", 0); err != nil {
		t.Fatal(err)
	}
	if c := cstatus(t, r, "g", "runs"); c.Current.State != runtime.StateTerminated || c.Current.Message != "bye" {
		t.Errorf("stopped container that wrote its file: %+v", c.Current)
	}
}

// A file holds at most the last runtime.MaxTerminationMessageBytes.
func TestTerminationMessageBounded(t *testing.T) {
	r, _ := newTest(t, Options{})
	long := strings.Repeat("x", runtime.MaxTerminationMessageBytes) + "END"
	s := spec("g", runtime.RestartNever, ctr("main", "sleep", "infinity"))
	s.InitContainers = []runtime.ContainerSpec{withTermination(ctr("i", "echo", "-n", long, ">", "/m"), "/m", "")}
	mustRun(t, r, s)
	c := cstatus(t, r, "g", "i")
	if len(c.Current.Message) != runtime.MaxTerminationMessageBytes || !strings.HasSuffix(c.Current.Message, "END") {
		t.Errorf("message of %d bytes ending %q", len(c.Current.Message), c.Current.Message[len(c.Current.Message)-5:])
	}
}
