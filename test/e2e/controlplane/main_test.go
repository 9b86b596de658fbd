// Package controlplane tests the local cluster end to end: real etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler built from the
// pinned releases, the vnode CLI that starts and stops them, and the
// certificates that hold them together.
package controlplane

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// suite is what TestMain prepares for every test of the package.
type suite struct {
	binaries k8sbin.Set
	cluster  *localcluster.Cluster
	client   kubernetes.Interface
	vnode    string // path of a vnode binary built from this tree
}

var env suite // set once by TestMain before any test runs, read-only after

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var err error
	if env.binaries, err = framework.Binaries(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "control-plane binaries:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "vnode-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if env.vnode, err = framework.BuildVnode(ctx, tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.cluster, err = framework.StartCluster(ctx, env.binaries, "main")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(env.cluster.Config().StateDir)
	defer env.cluster.Stop()
	restConfig, err := env.cluster.RESTConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if env.client, err = kubernetes.NewForConfig(restConfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
