// Package bench measures the node agent against a real local cluster:
// a 0→1,000 pod burst and a 5,000-pod steady state, with the agent as a
// `vnode node` process on the memory backend at zero start delay. Run it
// with `make bench`; results go to docs/benchmarks.md.
package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// env is prepared once by TestMain.
var env struct {
	cluster *localcluster.Cluster
	client  kubernetes.Interface
	agent   *exec.Cmd
	// metricsURL is the agent's /metrics.
	metricsURL string
}

// agentReady reports whether the agent serves its metrics and its node is
// schedulable.
func agentReady() bool {
	if _, err := agentMetrics(); err != nil {
		return false
	}
	node, err := env.client.CoreV1().Nodes().Get(context.Background(), "virtual-node-aci-linux", metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, t := range node.Spec.Taints {
		if t.Key == "node.kubernetes.io/not-ready" {
			return false
		}
	}
	return true
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// agentMetrics scrapes the agent and returns each histogram's sum and
// count, keyed by name and labels as Prometheus prints them.
func agentMetrics() (map[string]float64, error) {
	resp, err := http.Get(env.metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				out[key+"_sum"] += h.GetSampleSum()
				out[key+"_count"] += float64(h.GetSampleCount())
			}
			if c := m.GetCounter(); c != nil {
				out[key] += c.GetValue()
			}
		}
	}
	return out, nil
}

// meanDelta returns the mean of a histogram's observations between two
// scrapes, in milliseconds.
func meanDelta(before, after map[string]float64, key string) float64 {
	n := after[key+"_count"] - before[key+"_count"]
	if n == 0 {
		return 0
	}
	return (after[key+"_sum"] - before[key+"_sum"]) / n * 1000
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	set, err := framework.Binaries(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "vnode-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	vnode, err := framework.BuildVnode(ctx, tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if env.cluster, err = framework.StartCluster(ctx, set, "bench"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(env.cluster.Config().StateDir)
	defer env.cluster.Stop()
	cfg, err := env.cluster.RESTConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.QPS, cfg.Burst = 200, 400
	env.client = kubernetes.NewForConfigOrDie(cfg)
	metricsAddr, err := freeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.metricsURL = "http://" + metricsAddr + "/metrics"
	env.agent = exec.Command(vnode, "node", "--kubeconfig", env.cluster.Kubeconfig(), "--metrics-addr", metricsAddr, "--internal-ip", "127.0.0.1",
		"--no-kubelet-api")
	logFile, _ := os.Create(filepath.Join(tmp, "agent.log"))
	env.agent.Stdout, env.agent.Stderr = logFile, logFile
	env.agent.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := env.agent.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.agent.Process.Kill(); _ = env.agent.Wait() }()
	// The benchmarks start once the agent serves its metrics and the node
	// has no not-ready taint left, so neither start-up is measured.
	deadline := time.Now().Add(2 * time.Minute)
	for !agentReady() {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "the agent did not become ready")
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	return m.Run()
}

// procStats reads the agent's peak RSS (bytes) and CPU time.
func procStats(pid int) (peakRSS int64, cpu time.Duration) {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			peakRSS = kb * 1024
		}
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 {
		f := strings.Fields(string(stat)[i+2:])
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		cpu = time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	}
	return peakRSS, cpu
}

func currentRSS(pid int) int64 {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// podTimes records, from one watch, when each pod was first seen bound
// and first seen Running, and when it disappeared.
type podTimes struct {
	mu          sync.Mutex
	created     map[types.UID]time.Time
	bound       map[types.UID]time.Time
	terminating map[types.UID]time.Time
	running     map[types.UID]time.Time
	deleted     map[types.UID]time.Time
}

// watchPods records pod transitions through an informer, which re-lists
// and re-watches by itself if the API server drops a slow watch.
func watchPods(ctx context.Context, b *testing.B, ns string) *podTimes {
	pt := &podTimes{created: map[types.UID]time.Time{}, bound: map[types.UID]time.Time{}, terminating: map[types.UID]time.Time{}, running: map[types.UID]time.Time{}, deleted: map[types.UID]time.Time{}}
	factory := informers.NewSharedInformerFactoryWithOptions(env.client, 0, informers.WithNamespace(ns))
	observe := func(obj any, deleted bool) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			if tomb, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
				pod, ok = tomb.Obj.(*corev1.Pod)
			}
		}
		if !ok {
			return
		}
		now := time.Now()
		pt.mu.Lock()
		defer pt.mu.Unlock()
		if _, seen := pt.created[pod.UID]; !seen {
			pt.created[pod.UID] = now
		}
		if pod.Spec.NodeName != "" {
			if _, seen := pt.bound[pod.UID]; !seen {
				pt.bound[pod.UID] = now
			}
		}
		if pod.DeletionTimestamp != nil {
			if _, seen := pt.terminating[pod.UID]; !seen {
				pt.terminating[pod.UID] = now
			}
		}
		if pod.Status.Phase == corev1.PodRunning {
			if _, seen := pt.running[pod.UID]; !seen {
				pt.running[pod.UID] = now
			}
		}
		if deleted {
			pt.deleted[pod.UID] = now
		}
	}
	_, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { observe(obj, false) },
		UpdateFunc: func(_, obj any) { observe(obj, false) },
		DeleteFunc: func(obj any) { observe(obj, true) },
	})
	if err != nil {
		b.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return pt
}

func (pt *podTimes) counts() (running, deleted int) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return len(pt.running), len(pt.deleted)
}

// lags returns the sorted lags between two recorded moments of each pod.
func (pt *podTimes) lags(from, to map[types.UID]time.Time) []time.Duration {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	var out []time.Duration
	for uid, end := range to {
		if begin, ok := from[uid]; ok {
			out = append(out, end.Sub(begin))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// last returns the latest time in m.
func last(m map[types.UID]time.Time) time.Time {
	var t time.Time
	for _, v := range m {
		if v.After(t) {
			t = v
		}
	}
	return t
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func deployment(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "bench"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers:   []corev1.Container{{Name: "hello", Image: "localhost:5000/hello:latest"}},
					NodeSelector: map[string]string{"type": "virtual-kubelet"},
					Tolerations:  []corev1.Toleration{{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists}},
				},
			},
		},
	}
}

func setScale(b *testing.B, ns string, replicas int32) {
	if err := framework.Scale(context.Background(), env.client, ns, "bench", replicas); err != nil {
		b.Fatal(err)
	}
}

func waitUntil(b *testing.B, what string, timeout time.Duration, cond func() bool) {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newNamespace(b *testing.B) string { return framework.NewNamespace(b, env.client) }

// burst scales a Deployment 0→n and back to 0 and reports the timings.
func burst(b *testing.B, n int32) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := newNamespace(b)
	if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, deployment(0), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	pt := watchPods(ctx, b, ns)
	pid := env.agent.Process.Pid
	_, cpuBefore := procStats(pid)
	mBefore, err := agentMetrics()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	setScale(b, ns, n)
	waitUntil(b, fmt.Sprintf("%d pods Running", n), 20*time.Minute, func() bool { r, _ := pt.counts(); return r >= int(n) })
	allRunning := time.Since(start)
	lags := pt.lags(pt.bound, pt.running)
	mAfter, err := agentMetrics()
	if err != nil {
		b.Fatal(err)
	}
	pt.mu.Lock()
	allCreated, allBound := last(pt.created).Sub(start), last(pt.bound).Sub(start)
	pt.mu.Unlock()
	// Where the time goes: the control plane creating and binding pods,
	// and the latency of the agent's own API writes and queue.
	b.ReportMetric(allCreated.Seconds(), "s-to-all-created")
	b.ReportMetric(allBound.Seconds(), "s-to-all-bound")
	b.ReportMetric(meanDelta(mBefore, mAfter, "vnode_api_request_duration_seconds,code=200,verb=PUT"), "agent-api-put-mean-ms")
	b.ReportMetric(meanDelta(mBefore, mAfter, "vnode_pod_queue_latency_seconds"), "agent-queue-wait-mean-ms")

	start = time.Now()
	setScale(b, ns, 0)
	waitUntil(b, "all pods deleted", 20*time.Minute, func() bool { _, d := pt.counts(); return d >= int(n) })
	allDeleted := time.Since(start)
	if left, err := env.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil || len(left.Items) > 0 {
		b.Fatalf("after scaling to 0: %v pods left (%v)", len(left.Items), err)
	}
	peak, cpuAfter := procStats(pid)
	// With no stop delay the backend finishes at once, so the lag from a
	// pod's deletion timestamp to its removal is the agent's deletion path.
	deletes := pt.lags(pt.terminating, pt.deleted)
	b.ReportMetric(float64(percentile(deletes, 0.5).Milliseconds()), "terminating-to-gone-p50-ms")
	b.ReportMetric(float64(percentile(deletes, 0.99).Milliseconds()), "terminating-to-gone-p99-ms")

	b.ReportMetric(allRunning.Seconds(), "s-to-all-running")
	b.ReportMetric(float64(percentile(lags, 0.5).Milliseconds()), "bind-to-running-p50-ms")
	b.ReportMetric(float64(percentile(lags, 0.99).Milliseconds()), "bind-to-running-p99-ms")
	b.ReportMetric(float64(percentile(lags, 1).Milliseconds()), "bind-to-running-max-ms")
	b.ReportMetric(allDeleted.Seconds(), "s-to-all-deleted")
	b.ReportMetric(float64(peak)/(1<<20), "agent-peak-rss-MB")
	b.ReportMetric((cpuAfter - cpuBefore).Seconds(), "agent-cpu-s")
}

// BenchmarkBurst1000 scales the sample Deployment 0→1,000→0.
func BenchmarkBurst1000(b *testing.B) {
	for range b.N {
		burst(b, 1000)
	}
}

// BenchmarkSteady5000 holds 5,000 Running pods and measures the agent's
// memory and its CPU use over a minute without changes.
func BenchmarkSteady5000(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		ns := newNamespace(b)
		if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, deployment(0), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		pt := watchPods(ctx, b, ns)
		start := time.Now()
		setScale(b, ns, 5000)
		waitUntil(b, "5000 pods Running", 30*time.Minute, func() bool { r, _ := pt.counts(); return r >= 5000 })
		b.ReportMetric(time.Since(start).Seconds(), "s-to-all-running")
		pid := env.agent.Process.Pid
		_, cpu0 := procStats(pid)
		time.Sleep(time.Minute) // the measured idle period
		peak, cpu1 := procStats(pid)
		b.ReportMetric(float64(currentRSS(pid))/(1<<20), "agent-rss-MB")
		b.ReportMetric(float64(peak)/(1<<20), "agent-peak-rss-MB")
		b.ReportMetric((cpu1-cpu0).Seconds()/60*100, "agent-idle-cpu-%")
		setScale(b, ns, 0)
		waitUntil(b, "all pods deleted", 30*time.Minute, func() bool { _, d := pt.counts(); return d >= 5000 })
		cancel()
	}
}
