package instances

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// TestContainerdRefusesSubnetRoutedElsewhere starts the service with the
// containerd runtime on a subnet that another interface of the host routes
// already, as a bridge left behind by a killed run does: the service must
// refuse to start and name that interface, rather than start groups that
// nothing can reach.
func TestContainerdRefusesSubnetRoutedElsewhere(t *testing.T) {
	framework.RequireContainerd(t)
	const subnet = "10.241.236.0/24"
	leftover := fmt.Sprintf("vnleft%d", os.Getpid()%100000)
	framework.DeleteLinkAtEnd(t, leftover)
	for _, args := range [][]string{
		{"link", "add", leftover, "type", "bridge"},
		{"addr", "add", "10.241.236.1/24", "dev", leftover},
		{"link", "set", leftover, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	framework.RemoveEmptyDirsAtEnd(t, "/run/containerd", "/run/containerd/s")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(testToken+" "+testSub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.TokensFile = tokens
	cfg.Runtime = "containerd"
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "data")
	// The check comes before containerd starts, so the image is never pulled.
	cfg.Containerd = config.Containerd{SandboxImage: "127.0.0.1:1/vnode/pause:1", Bridge: fmt.Sprintf("vnsub%d", os.Getpid()%100000), Subnet: subnet}
	if err := cfg.Complete(dir); err != nil {
		t.Fatal(err)
	}
	inst, err := app.Start(context.Background(), cfg, app.Options{})
	if err == nil {
		_ = inst.Close()
		_ = app.RemoveGroups(context.Background(), cfg)
		t.Fatal("the service started on a subnet that " + leftover + " routes")
	}
	for _, want := range []string{subnet, "already routed through " + leftover, "ip link delete " + leftover} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
