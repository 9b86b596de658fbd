package pods

import (
	"context"
	"maps"
	"slices"
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
func newReferencesFixture(t *testing.T) (*fixture, *corev1.Pod) {
	t.Helper()
	ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "ns"}, Data: map[string]string{"ca.crt": "CA"}}
	db := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}, Data: map[string][]byte{"password": []byte("pw")}}
	f := newFixture(t, nil, referencingPod("web"), ca, db)
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

// A deleted pod leaves nothing behind.
func TestDeletionReleasesThePod(t *testing.T) {
	f, p := newReferencesFixture(t)
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
