// Package system benchmarks the whole local system (`vnode up`): a burst of
// pods on the virtual node, from creation to Running as a watch sees it,
// running real containers on containerd, and their deletion.
package system

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

const burst = 100

// BenchmarkPodBurst creates a Deployment of 100 hello pods (image cached by
// a first pod) on the virtual node and reports creation→Running as a
// watch sees it (p50, p99, pods/s), then scales it to 0 and reports how
// long each pod takes to go. Run with -benchtime 1x, as root.
//
// Containerd: real containers, as users run them. Fake: the service's
// simulated runtime, so what is measured is the agent, the service and
// the control plane without containerd's own cost.
func BenchmarkPodBurst(b *testing.B) {
	b.Run("containerd", func(b *testing.B) { benchBurst(b, "10.241.251.0/24", "--runtime=containerd") })
	b.Run("fake", func(b *testing.B) { benchBurst(b, "10.241.252.0/24", "--runtime=fake") })
}

func benchBurst(b *testing.B, subnet string, extra ...string) {
	if reason := framework.MissingStackPrereqs(); reason != "" {
		b.Skip(reason)
	}
	ctx := context.Background()
	set, err := framework.Binaries(ctx)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	vnode, err := framework.BuildVnode(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	stack, err := framework.StartStack(ctx, set, vnode, dir, "vnb", subnet, extra...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := stack.Down(); err != nil {
			b.Error(err)
		}
	}()
	for i := 0; i < b.N; i++ {
		runBurst(ctx, b, stack, fmt.Sprintf("burst-%d", i))
	}
}

func runBurst(ctx context.Context, b *testing.B, s *framework.Stack, ns string) {
	c := s.Client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}) }()

	labels := map[string]string{"app": "burst"}
	image := s.Regs.Images.Hello
	if image == "" {
		image = "vnode/hello:1" // the fake runtime pulls nothing
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "web", Image: image,
			Ports: []corev1.ContainerPort{{ContainerPort: 80}}}},
		NodeSelector: map[string]string{"type": "virtual-kubelet"},
		Tolerations:  []corev1.Toleration{{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists}},
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "burst"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}
	// One pod first, so the burst runs with the image cached.
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitRunning(ctx, b, s, ns, 1)

	w := watchPods(ctx, b, s, ns)
	defer w.Stop()
	seen := map[types.UID]time.Time{}
	runningAt := map[types.UID]time.Time{}
	startedAt := map[types.UID]time.Time{} // the container's start, as the service reports it
	b.ResetTimer()
	began := time.Now()
	if err := framework.Scale(ctx, c, ns, "burst", burst+1); err != nil {
		b.Fatal(err)
	}
	deadline := time.After(10 * time.Minute)
	for len(runningAt) < burst {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				b.Fatal("the pod watch ended")
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			if _, known := seen[pod.UID]; !known && ev.Type == watch.Added {
				seen[pod.UID] = now
			}
			if _, known := seen[pod.UID]; known && runningAt[pod.UID].IsZero() && framework.PodReady(pod) {
				runningAt[pod.UID] = now
				if st := pod.Status.ContainerStatuses[0].State.Running; st != nil {
					startedAt[pod.UID] = st.StartedAt.Time
				}
			}
		case <-deadline:
			b.Fatalf("%d of %d pods Running after 10 minutes", len(runningAt), burst)
		}
	}
	var lat []time.Duration
	last := began
	for uid, t := range runningAt {
		lat = append(lat, t.Sub(seen[uid]))
		if t.After(last) {
			last = t
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	rate := float64(burst) / last.Sub(began).Seconds()
	// Where the time goes: creation → the container's start (agent,
	// service, containerd), then start → Running seen (status path).
	var toStart, toSeen []time.Duration
	for uid, t := range startedAt {
		toStart = append(toStart, t.Sub(seen[uid]))
		toSeen = append(toSeen, runningAt[uid].Sub(t))
	}
	if len(toStart) > 0 {
		sort.Slice(toStart, func(i, j int) bool { return toStart[i] < toStart[j] })
		sort.Slice(toSeen, func(i, j int) bool { return toSeen[i] < toSeen[j] })
		fmt.Fprintf(os.Stderr, "creation→container started p50 %.2f s, p99 %.2f s; started→Running seen p50 %.2f s, p99 %.2f s (start times have 1 s resolution)\n",
			toStart[len(toStart)/2].Seconds(), toStart[len(toStart)*99/100].Seconds(),
			toSeen[len(toSeen)/2].Seconds(), toSeen[len(toSeen)*99/100].Seconds())
	}
	b.ReportMetric(p50.Seconds(), "p50-s")
	b.ReportMetric(p99.Seconds(), "p99-s")
	b.ReportMetric(rate, "pods/s")
	fmt.Fprintf(os.Stderr, "burst of %d: creation→Running p50 %.2f s, p99 %.2f s, max %.2f s; all Running %.1f s after the scale-up (%.1f pods/s)\n",
		burst, p50.Seconds(), p99.Seconds(), lat[len(lat)-1].Seconds(), last.Sub(began).Seconds(), rate)

	measureDeletion(ctx, b, s, ns, w)
}

// measureDeletion scales the Deployment to 0 and reports, per pod, the
// time from the watch's first sight of its deletion timestamp to its
// disappearance. The hello server exits at once on SIGTERM, so this is the
// time the agent and the service take beyond the containers' stop, plus
// the stop itself (milliseconds).
func measureDeletion(ctx context.Context, b *testing.B, s *framework.Stack, ns string, w watch.Interface) {
	marked := map[types.UID]time.Time{}
	gone := map[types.UID]time.Time{}
	began := time.Now()
	if err := framework.Scale(ctx, s.Client, ns, "burst", 0); err != nil {
		b.Fatal(err)
	}
	deadline := time.After(5 * time.Minute)
	for len(gone) < burst+1 {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				b.Fatal("the pod watch ended")
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			if _, ok := marked[pod.UID]; !ok && pod.DeletionTimestamp != nil {
				marked[pod.UID] = now
			}
			if ev.Type == watch.Deleted {
				gone[pod.UID] = now
			}
		case <-deadline:
			b.Fatalf("%d of %d pods gone after 5 minutes", len(gone), burst+1)
		}
	}
	var lat []time.Duration
	for uid, t := range gone {
		lat = append(lat, t.Sub(marked[uid]))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(p99.Seconds(), "delete-p99-s")
	fmt.Fprintf(os.Stderr, "deletion of %d: deletion timestamp→gone p50 %.3f s, p99 %.3f s; all gone %.1f s after the scale-down\n",
		len(lat), p50.Seconds(), p99.Seconds(), time.Since(began).Seconds())
}

func waitRunning(ctx context.Context, b *testing.B, s *framework.Stack, ns string, n int) {
	framework.WaitFor(b, fmt.Sprintf("%d pods Running", n), 5*time.Minute, func() (bool, error) {
		ready, total, err := framework.CountReadyPods(ctx, s.Client, ns)
		return err == nil && ready == n, fmt.Errorf("%d of %d Running (%v)", ready, total, err)
	})
}

// watchPods watches ns's pods from now on (the pods that exist are not
// reported), resuming across the API server's ends of a watch.
func watchPods(ctx context.Context, b *testing.B, s *framework.Stack, ns string) watch.Interface {
	pods := s.Client.CoreV1().Pods(ns)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return pods.Watch(ctx, o)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	return w
}
