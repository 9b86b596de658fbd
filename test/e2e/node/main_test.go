// Package node tests the node agent end to end on a real local cluster:
// the agent runs in the test process with the in-memory backend, so tests
// can break the backend and restart the agent, and as a `vnode node`
// process for what must hold across a SIGKILL.
package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vnode-io/vnode/internal/agent"
	"github.com/vnode-io/vnode/internal/backend/memory"
	"github.com/vnode-io/vnode/internal/hostaddr"
	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
	nodectl "github.com/vnode-io/vnode/internal/node"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// suite is what TestMain prepares; read-only after it.
type suite struct {
	binaries k8sbin.Set
	cluster  *localcluster.Cluster
	rest     *rest.Config
	client   kubernetes.Interface
	vnode    string
	backend  *memory.Backend
	agent    *runningAgent
}

var env suite

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	var err error
	if env.binaries, err = framework.Binaries(ctx); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp("", "vnode-e2e-bin-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	if env.vnode, err = framework.BuildVnode(ctx, tmp); err != nil {
		return fail(err)
	}
	if env.cluster, err = framework.StartCluster(ctx, env.binaries, "node"); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(env.cluster.Config().StateDir)
	defer env.cluster.Stop()
	if env.rest, err = env.cluster.RESTConfig(); err != nil {
		return fail(err)
	}
	if env.client, err = kubernetes.NewForConfig(env.rest); err != nil {
		return fail(err)
	}
	// Containers take a moment to stop, as real ones do, so that deletion
	// shows the agent waiting for the backend rather than the grace period.
	if env.backend, err = memory.New(memory.Config{StopDelay: time.Second, RestartBackOff: time.Second}); err != nil {
		return fail(err)
	}
	if env.agent, err = startAgent(env.backend); err != nil {
		return fail(err)
	}
	defer func() { env.agent.stop() }()
	return m.Run()
}

// runningAgent is an agent running in this process.
type runningAgent struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	// endpoints are where it serves; its kubelet API presents a
	// certificate requested by CSR, which approveServingCSR approves.
	endpoints agent.Endpoints
}

// startAgent runs the agent of the default virtual node on b and waits
// until it has registered the node.
func startAgent(b *memory.Backend) (*runningAgent, error) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &runningAgent{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan agent.Endpoints, 1)
	taint := nodectl.DefaultTaint()
	// The host's own address, not loopback: the API server proxies to
	// nodes (nodes/proxy) only at addresses it may dial.
	ip := "127.0.0.1"
	if host := hostaddr.Default(); host != nil {
		ip = host.String()
	}
	go func() {
		a.done <- agent.Run(ctx, agent.Config{
			REST: env.rest, Backend: b, RuntimeVersion: "memory://e2e",
			Node: nodectl.ControllerConfig{
				Region: "e2e", Taint: &taint, InternalIP: ip, HealthInterval: 500 * time.Millisecond,
			},
			// The kubelet API listens on a free port, which the node
			// advertises, and accepts the API server's kubelet client
			// certificate, signed by the cluster CA.
			Kubelet: agent.KubeletConfig{
				Addr:         net.JoinHostPort(ip, "0"),
				ClientCAFile: filepath.Join(env.cluster.Config().StateDir, "pki", "ca.crt"),
			},
			Ready: func(e agent.Endpoints) { ready <- e },
		})
	}()
	select {
	case a.endpoints = <-ready:
		return a, nil
	case err := <-a.done:
		cancel()
		return nil, fmt.Errorf("agent: %w", err)
	case <-time.After(time.Minute):
		cancel()
		return nil, fmt.Errorf("agent not ready after a minute")
	}
}

// stop ends the agent abruptly: no shutdown work is done, as after a
// crash, and it returns once the agent's goroutines have ended.
func (a *runningAgent) stop() {
	a.once.Do(func() {
		a.cancel()
		<-a.done
	})
}
