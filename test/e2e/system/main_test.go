// Package system tests the whole of vnode as a user meets it: `vnode up`
// starts the control plane, the registries, the container instances
// service on containerd and the virtual node, and the tests drive it with
// the real kubectl — the AKS sample, logs, exec, cp, attach, port-forward,
// stats, private images, limits, scaling, an agent restart and metering —
// and cluster networking: Services through kube-proxy, cluster DNS,
// hostnames and host aliases, API access with rotated service-account
// tokens, volumes that follow their ConfigMaps, termination messages,
// environment variable names as Kubernetes allows them, volume file
// modes, fsGroup, memory emptyDirs and subPaths, and lifecycle hooks.
package system

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// suite is what TestMain prepares; read-only after it.
type suite struct {
	*framework.Stack
	binaries k8sbin.Set
	// skip is why the suite cannot run here (no root, no containerd).
	skip string
}

var env suite

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if reason := framework.MissingStackPrereqs(); reason != "" {
		env.skip = reason
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	var err error
	if env.binaries, err = framework.Binaries(ctx); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp("", "vnode-e2e-system-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	vnode, err := framework.BuildVnode(ctx, tmp)
	if err != nil {
		return fail(err)
	}
	// A subnet of the documented 10.241.0.0/16 on a bridge of its own, so
	// that the suite runs beside a `vnode up` on this machine.
	// Tokens are replaced once 20 seconds old, so that a test sees one
	// rotated (the default is 24 hours).
	if env.Stack, err = framework.StartStack(ctx, env.binaries, vnode, tmp, "vnsys", "10.241.250.0/24",
		"--service-account-token-max-age=20s"); err != nil {
		return fail(err)
	}
	defer func() {
		if err := env.Down(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	code := m.Run()
	if code != 0 {
		fmt.Fprint(os.Stderr, env.LogTails(80))
	}
	return code
}

// requireSuite skips a test when the suite could not start its stack.
func requireSuite(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}

func kubeconfig() string { return env.Kubeconfig() }

// vnode runs the vnode binary and returns its combined output.
func vnode(ctx context.Context, args ...string) (string, error) {
	return env.Run(ctx, args...)
}
