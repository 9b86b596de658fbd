package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/internal/process"
	"github.com/vnode-io/vnode/internal/version"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// A second cluster runs beside the suite's on other ports; Stop leaves no
// process and frees every port; starting again from the same state
// directory keeps the CA.
func TestSecondClusterSideBySideStopAndRestart(t *testing.T) {
	ctx := context.Background()
	second, err := framework.StartCluster(ctx, env.binaries, "second")
	if err != nil {
		t.Fatal(err)
	}
	stateDir := second.Config().StateDir
	t.Cleanup(func() { second.Stop(); os.RemoveAll(stateDir) })

	assertAnswers(t, second)
	assertAnswers(t, env.cluster) // the suite's cluster is unaffected
	caBefore, err := os.ReadFile(filepath.Join(stateDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}

	procs := second.Processes()
	if len(procs) != 4 {
		t.Fatalf("cluster runs %d processes, want 4: %+v", len(procs), procs)
	}
	second.Stop()
	for _, p := range procs {
		if process.Running(p.Pid, "") {
			t.Errorf("%s (pid %d) still runs after Stop", p.Name, p.Pid)
		}
	}
	if pids := framework.ProcessesMentioning(stateDir); len(pids) > 0 {
		t.Errorf("processes %v still mention %s after Stop", pids, stateDir)
	}
	assertPortsFree(t, second.Config().Ports)

	again, err := localcluster.New(localcluster.Config{StateDir: stateDir, BinDir: env.binaries.Dir, Ports: second.Config().Ports})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	assertAnswers(t, again)
	caAfter, err := os.ReadFile(filepath.Join(stateDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(caBefore, caAfter) {
		t.Error("restarting from the same state directory created a new CA")
	}
}

// Starting a cluster from a state directory that another cluster is using
// fails and leaves the running one alone.
func TestStartRefusesStateDirInUse(t *testing.T) {
	ports, err := localcluster.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	c, err := localcluster.New(localcluster.Config{StateDir: env.cluster.Config().StateDir, BinDir: env.binaries.Dir, Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if err == nil {
		c.Stop()
		t.Fatal("a second cluster started from a state directory in use")
	}
	if want := "already running"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not say %q", err, want)
	}
	assertAnswers(t, env.cluster)
}

func assertAnswers(t *testing.T, c *localcluster.Cluster) {
	t.Helper()
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("cluster in %s does not answer: %v", c.Config().StateDir, err)
	}
	if info.GitVersion != version.Kubernetes {
		t.Errorf("cluster reports %s, want %s", info.GitVersion, version.Kubernetes)
	}
}

func assertPortsFree(t *testing.T, ports localcluster.Ports) {
	t.Helper()
	if err := portsFree(ports); err != nil {
		t.Error(err)
	}
}

// portsFree returns an error naming the first port of the cluster that
// cannot be listened on.
func portsFree(ports localcluster.Ports) error {
	for _, p := range []int{ports.APIServer, ports.EtcdClient, ports.EtcdPeer, ports.ControllerManager, ports.Scheduler, ports.Instances,
		ports.Registry, ports.PrivateRegistry, ports.Kubelet, ports.NodeMetrics, ports.ProxyHealthz, ports.ProxyMetrics} {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("port %d still taken: %w", p, err)
		}
		l.Close()
	}
	return nil
}
