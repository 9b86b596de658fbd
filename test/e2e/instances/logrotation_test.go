package instances

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
)

// chatter prints numbered lines of about 100 bytes, 20 every tenth of a
// second.
const chatter = `i=0; pad=$(printf '%090d' 0); while :; do n=0; while [ $n -lt 20 ]; do i=$((i+1)); n=$((n+1)); ` +
	`echo "line $i $pad"; done; sleep 0.1; done`

// consecutive checks that out is count lines numbered one after the other
// and returns the last number.
func consecutive(out string, count int) (int, error) {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if count > 0 && len(lines) != count {
		return 0, fmt.Errorf("%d lines, want %d", len(lines), count)
	}
	var first int
	for i, l := range lines {
		var n int
		if _, err := fmt.Sscanf(l, "line %d ", &n); err != nil || (i > 0 && n != first+i) {
			return 0, fmt.Errorf("line %d is %.30q after line %d", i, l, first+i-1)
		}
		if i == 0 {
			first = n
		}
	}
	return first + len(lines) - 1, nil
}

// A chatty container's log is rotated at containerd.containerLogMaxSize
// (checked every 10 s) and keeps containerLogMaxFiles files; through the
// SDK a tail reaches back into the rotated files, and a followed log goes
// on across a rotation.
func TestLogRotation(t *testing.T) {
	e, refs := newContainerdEnv(t, "vnl", "10.242.0.0/24", func(c *config.Containerd) {
		c.ContainerLogMaxSize, c.ContainerLogMaxFiles = "16Ki", 3
	})
	e.create("chatty", shellGroup(aci.ContainerGroupRestartPolicyNever, shellContainer("main", refs.Shell, chatter)))
	e.waitState("chatty", "Running")
	files := func() []string {
		names, err := filepath.Glob(filepath.Join(e.cfg.DataDir, "runtime", "groups", "*", "logs", "main", "0.log*"))
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	waitFor(t, "two rotations", time.Minute, func() (bool, string) {
		n := files()
		return len(n) == 3 && strings.HasSuffix(n[1], ".gz"), fmt.Sprint(n)
	})

	// A rotation's worth of output is about 2,000 lines: 3,000 reach into
	// the rotated files.
	logs, err := e.ctrs.ListLogs(ctx(t), testRG, "chatty", "main", &aci.ContainersClientListLogsOptions{Tail: to.Ptr[int32](3000)})
	if err != nil {
		t.Fatal(err)
	}
	last, err := consecutive(*logs.Content, 3000)
	if err != nil {
		t.Fatalf("tail 3000: %v", err)
	}
	// Follow past the next rotation, about 10 s of output on.
	stopAt := fmt.Sprintf("line %d ", last+2500)
	out, _ := e.followLogs("chatty", "main", time.Minute, stopAt)
	if end, err := consecutive(out, 0); err != nil || end != last+2500 {
		t.Errorf("followed to line %d: %v", end, err)
	}
	if n := files(); len(n) > 3 {
		t.Errorf("%d log files, want at most 3: %v", len(n), n)
	}
	p, err := e.groups.BeginDelete(ctx(t), testRG, "chatty", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx(t), admPoll); err != nil {
		t.Fatal(err)
	}
	if n := files(); len(n) != 0 {
		t.Errorf("log files left after deleting the group: %v", n)
	}
}
