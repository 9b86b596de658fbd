package cri

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// An exec with a terminal gets the size the client sends. CRI starts the
// process before the first size reaches its terminal (as on a kubelet), so
// the command waits up to 3 s for it.
func TestExecTerminalSize(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	spec := runtime.GroupSpec{ID: "g-tty", Name: "tty", RestartPolicy: runtime.RestartAlways,
		Containers: []runtime.ContainerSpec{{Name: "app", Image: w.shell, Command: []string{"/bin/sh", "-c", "exec sleep 3600"}}}}
	if err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Remove(context.Background(), "g-tty", 0) })
	waitFor(t, "app running", func() (bool, string) {
		c := state(t, r, "g-tty", "app")
		return c.Current.State == runtime.StateRunning, fmt.Sprint(c)
	})
	sizes := make(chan runtime.TerminalSize, 1)
	sizes <- runtime.TerminalSize{Rows: 45, Cols: 123}
	pr, pw := io.Pipe()
	defer pw.Close()
	var out strings.Builder
	code, err := r.Exec(ctx, "g-tty", "app", []string{"sh", "-c", "i=0; until [ \"$(stty size 2>/dev/null)\" = \"45 123\" ] || [ $i -ge 30 ]; do i=$((i+1)); sleep 0.1; done; stty size"},
		runtime.Streams{Stdin: pr, Stdout: &out, TTY: true, Resize: sizes})
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "45 123" {
		t.Errorf("stty size in a terminal: %q, exit %d, %v", out.String(), code, err)
	}
}
