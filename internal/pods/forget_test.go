package pods

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
)

// held lists what the controller and its helpers still keep for uid.
func (c *Controller) held(uid types.UID) []string {
	var out []string
	c.mu.Lock()
	if rec, ok := c.records[uid]; ok {
		out = append(out, "record")
		if rec.state != nil {
			out = append(out, "state")
		}
		if rec.volumeHash != "" {
			out = append(out, "volume hash")
		}
		if rec.failure != nil {
			out = append(out, "failure")
		}
	}
	if slices.Contains(slices.Collect(maps.Values(c.byKey)), uid) {
		out = append(out, "key index")
	}
	c.mu.Unlock()
	c.refs.mu.Lock()
	if _, ok := c.refs.byPod[uid]; ok {
		out = append(out, "references")
	}
	c.refs.mu.Unlock()
	c.resolver.tokens.mu.Lock()
	if _, ok := c.resolver.tokens.tokens[uid]; ok {
		out = append(out, "tokens")
	}
	c.resolver.tokens.mu.Unlock()
	c.cfg.Metrics.mu.Lock()
	if _, ok := c.cfg.Metrics.starts[uid]; ok {
		out = append(out, "metrics")
	}
	c.cfg.Metrics.mu.Unlock()
	return out
}

// watchCount is how many Secrets and ConfigMaps are watched.
func (m *refManager) watchCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.objects)
}

// referencingPod runs with a token, a ConfigMap and a Secret.
func referencingPod(name string) *corev1.Pod {
	p := apiAccessPod(name)
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"},
	}}}
	return p
}

// newReferencesFixture runs referencingPod("web") until it is Running.
func newReferencesFixture(t *testing.T, tune func(*ControllerConfig)) (*fixture, *corev1.Pod) {
	t.Helper()
	ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "ns"}, Data: map[string]string{"ca.crt": "CA"}}
	db := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}, Data: map[string][]byte{"password": []byte("pw")}}
	f := newFixtureWith(t, nil, tune, referencingPod("web"), ca, db)
	(&tokenIssuer{accounts: map[string]bool{"robot": true}}).install(f.client)
	f.run()
	p := f.waitPod("web", "Running", running)
	f.waitInformer("web", running)
	if held := f.ctrl.held(p.UID); len(held) == 0 {
		t.Fatal("nothing is kept for a running pod")
	}
	if n := f.ctrl.refs.watchCount(); n != 2 {
		t.Fatalf("%d watches, want the ConfigMap's and the Secret's", n)
	}
	return f, p
}

// waitReleased waits until nothing is kept for uid and no object is
// watched any more.
func (f *fixture) waitReleased(uid types.UID) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		held, watches := f.ctrl.held(uid), f.ctrl.refs.watchCount()
		if len(held) == 0 && watches == 0 && f.backend.Workload(uid) == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: still kept %v, %d watches, workload %v", uid, held, watches, f.backend.Workload(uid) != nil)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stopReporter passes on the backend's pushes and tells which workloads
// final, stopped state the controller has been handed.
type stopReporter struct {
	*memory.Backend
	mu      sync.Mutex
	stopped map[types.UID]bool
}

func (b *stopReporter) Subscribe(ctx context.Context, fn func(*backend.PodState)) {
	b.Backend.Subscribe(ctx, func(st *backend.PodState) {
		stopped := st.AllTerminated()
		fn(st)
		b.mu.Lock()
		b.stopped[st.UID] = stopped
		b.mu.Unlock()
	})
}

func (b *stopReporter) reportedStopped(uid types.UID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopped[uid]
}

// A new pod that takes the name of a pod whose deletion the agent never
// saw replaces its workload, and what was kept for the old pod (its
// watches, tokens, volume hash and metrics) is released at once; the
// record the backend's last pushes make for the old workload is left to
// the garbage collection, which forgets it.
func TestNameReuseReleasesTheOldPod(t *testing.T) {
	var reporter *stopReporter
	f, old := newReferencesFixture(t, func(c *ControllerConfig) {
		reporter = &stopReporter{Backend: c.Backend.(*memory.Backend), stopped: map[types.UID]bool{}}
		c.Backend = reporter
		c.GCInterval = time.Hour // collected by hand below
	})
	// The informer delivers the new pod as an update of the old one, as
	// when it coalesces a deletion and a creation.
	replacement := newPod("web")
	replacement.UID = "uid-web-2"
	replacement.ResourceVersion = old.ResourceVersion
	if _, err := f.client.CoreV1().Pods("ns").Update(context.Background(), replacement, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitPod("web", "the new pod Running", func(p *corev1.Pod) bool {
		return running(p) && p.UID == replacement.UID && f.backend.Workload(replacement.UID) != nil
	})
	waitFor(t, "the old workload's last push", func() bool {
		return f.backend.Workload(old.UID) == nil && reporter.reportedStopped(old.UID)
	})
	if held := f.ctrl.held(old.UID); slices.ContainsFunc(held, func(s string) bool { return s != "record" && s != "state" }) {
		t.Errorf("kept for the old pod: %v; want at most the record of its last push", held)
	}
	if n := f.ctrl.refs.watchCount(); n != 0 {
		t.Errorf("%d objects still watched", n)
	}
	f.ctrl.collect(context.Background())
	f.waitReleased(old.UID)
	if held := f.ctrl.held(replacement.UID); !slices.Contains(held, "state") || !slices.Contains(held, "key index") {
		t.Errorf("kept for the new pod: %v; want its state and key", held)
	}
}

// A deleted pod leaves nothing behind.
func TestDeletionReleasesThePod(t *testing.T) {
	f, p := newReferencesFixture(t, nil)
	if err := f.client.CoreV1().Pods("ns").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitReleased(p.UID)
}

// The workload of a pod that is gone is collected with all that was kept
// for it since it was adopted.
func TestCollectedOrphanIsForgotten(t *testing.T) {
	b, _ := memory.New(memory.Config{})
	orphan := newPod("orphan")
	if err := b.Create(context.Background(), &backend.Workload{Pod: orphan}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, b)
	f.run()
	f.waitReleased(orphan.UID)
}
