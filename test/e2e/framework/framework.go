// Package framework holds what the end-to-end suites share: the pinned
// control-plane binaries, a local cluster per test binary, a freshly built
// vnode binary, and polling helpers that wait for conditions with
// deadlines.
package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
)

// RepoRoot returns the root of the source tree this package was built from.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Binaries builds (once per pin, cached) and returns the control-plane
// binaries, reporting build progress on stderr.
func Binaries(ctx context.Context) (k8sbin.Set, error) {
	cacheDir, err := k8sbin.DefaultCacheDir()
	if err != nil {
		return k8sbin.Set{}, err
	}
	b := &k8sbin.Builder{
		SourceDir: filepath.Join(RepoRoot(), "hack", "controlplane"),
		CacheDir:  cacheDir,
		Progress:  os.Stderr,
	}
	return b.Ensure(ctx)
}

// BuildVnode compiles the vnode command into dir and returns its path.
func BuildVnode(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "vnode")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/vnode")
	cmd.Dir = RepoRoot()
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build vnode: %w\n%s", err, output)
	}
	return out, nil
}

// StartCluster starts a local cluster on free ports in a new state
// directory under the system's temporary directory.
func StartCluster(ctx context.Context, set k8sbin.Set, name string) (*localcluster.Cluster, error) {
	stateDir, err := os.MkdirTemp("", "vnode-e2e-"+name+"-")
	if err != nil {
		return nil, err
	}
	ports, err := localcluster.FreePorts()
	if err != nil {
		return nil, err
	}
	c, err := localcluster.New(localcluster.Config{
		StateDir: stateDir,
		BinDir:   set.Dir,
		Ports:    ports,
		Out:      prefixWriter{prefix: "[" + name + "] "},
	})
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, fmt.Errorf("start cluster %s: %w", name, err)
	}
	return c, nil
}

// prefixWriter writes to stderr with a prefix, so that the progress of a
// cluster shows in the test output.
type prefixWriter struct{ prefix string }

func (w prefixWriter) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			fmt.Fprint(os.Stderr, w.prefix+line)
		}
	}
	return len(p), nil
}

// WaitFor polls cond every interval until it returns true, returns an
// error, or the timeout passes; the test fails with what it last said.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := 20 * time.Millisecond
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(interval)
		interval = min(2*interval, 500*time.Millisecond)
	}
}

// ProcessesMentioning returns the pids of processes whose command line
// contains s, to prove that nothing of a cluster is left behind.
func ProcessesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), s) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue // a zombie holds no resources and is about to be reaped
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// NewNamespace creates a namespace with a generated name and deletes it
// when the test ends.
func NewNamespace(t testing.TB, client kubernetes.Interface) string {
	t.Helper()
	ns, err := client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	// The controller-manager creates the namespace's default ServiceAccount
	// a moment later; until then pods are refused and no token is issued.
	WaitFor(t, "the default service account of "+ns.Name, time.Minute, func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns.Name).Get(context.Background(), "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	return ns.Name
}

// Scale sets a Deployment's replicas through its scale subresource,
// retrying when the deployment controller wrote the object in between.
func Scale(ctx context.Context, client kubernetes.Interface, ns, name string, replicas int32) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := client.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Replicas = replicas
		_, err = client.AppsV1().Deployments(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
		return err
	})
}

// PodReady reports a pod Running with every container ready.
func PodReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready {
			return false
		}
	}
	return true
}

// CountReadyPods returns how many of ns's pods are ready (PodReady), and
// how many pods it has.
func CountReadyPods(ctx context.Context, client kubernetes.Interface, ns string) (ready, total int, err error) {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, 0, err
	}
	for i := range pods.Items {
		if PodReady(&pods.Items[i]) {
			ready++
		}
	}
	return ready, len(pods.Items), nil
}
