package pods

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
)

// tokenIssuer answers TokenRequests as the API server does, numbering the
// tokens it mints and recording the requests.
type tokenIssuer struct {
	mu       sync.Mutex
	requests []*authenticationv1.TokenRequest
	accounts map[string]bool
}

func (i *tokenIssuer) install(client *fake.Clientset) {
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		c, ok := a.(k8stesting.CreateAction)
		if !ok || a.GetSubresource() != "token" {
			return false, nil, nil
		}
		name := c.(k8stesting.CreateActionImpl).Name
		if !i.accounts[name] {
			return true, nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), name)
		}
		req := c.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		i.mu.Lock()
		defer i.mu.Unlock()
		i.requests = append(i.requests, req)
		req.Status = authenticationv1.TokenRequestStatus{
			Token:               fmt.Sprintf("token-%d", len(i.requests)),
			ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
		}
		return true, req, nil
	})
}

func (i *tokenIssuer) count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.requests)
}

// apiAccessPod has the volume the ServiceAccount admission plugin adds.
func apiAccessPod(name string) *corev1.Pod {
	p := newPod(name)
	p.Spec.ServiceAccountName = "robot"
	p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}}}
	return p
}

func filesOf(w *backend.Workload, volume string) map[string]string {
	out := map[string]string{}
	if w == nil {
		return out
	}
	for _, f := range w.Volumes[volume] {
		out[f.Path] = string(f.Data)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The kube-api-access volume gets a token bound to the pod, the cluster CA
// and the namespace; the token is replaced in the running workload once it
// is due, and so is a ConfigMap's content when it changes, without the
// workload being created again.
func TestProjectedTokenAndConfigMapRefresh(t *testing.T) {
	b, _ := memory.New(memory.Config{})
	ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "ns"}, Data: map[string]string{"ca.crt": "CA1"}}
	issuer := &tokenIssuer{accounts: map[string]bool{"robot": true}}
	f := newFixtureWith(t, b, func(c *ControllerConfig) { c.TokenMaxAge = 300 * time.Millisecond }, apiAccessPod("web"), ca)
	issuer.install(f.client)
	f.run()
	p := f.waitPod("web", "Running", running)

	files := filesOf(b.Workload(p.UID), "kube-api-access-x")
	if files["ca.crt"] != "CA1" || files["namespace"] != "ns" || files["token"] == "" {
		t.Fatalf("kube-api-access files = %v", files)
	}
	first := files["token"]
	issuer.mu.Lock()
	req := issuer.requests[0]
	issuer.mu.Unlock()
	if ref := req.Spec.BoundObjectRef; ref == nil || ref.Kind != "Pod" || ref.Name != "web" || ref.UID != p.UID ||
		*req.Spec.ExpirationSeconds != 3607 || len(req.Spec.Audiences) != 0 {
		t.Errorf("token request %+v", req.Spec)
	}

	waitFor(t, "a new token in the running workload", func() bool {
		return filesOf(b.Workload(p.UID), "kube-api-access-x")["token"] != first
	})
	if b.Creates() != 1 || b.VolumeUpdates() == 0 {
		t.Errorf("creates %d, volume updates %d: want the files replaced in place", b.Creates(), b.VolumeUpdates())
	}

	ca.Data["ca.crt"] = "CA2"
	if _, err := f.client.CoreV1().ConfigMaps("ns").Update(context.Background(), ca, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new ConfigMap content in the running workload", func() bool {
		return filesOf(b.Workload(p.UID), "kube-api-access-x")["ca.crt"] == "CA2"
	})
	if b.Creates() != 1 {
		t.Errorf("the workload was created %d times", b.Creates())
	}
}

// A pod whose service account does not exist waits with the kubelet's
// CreateContainerConfigError and starts once it does.
func TestTokenOfMissingServiceAccount(t *testing.T) {
	ca := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "ns"}, Data: map[string]string{"ca.crt": "CA"}}
	issuer := &tokenIssuer{accounts: map[string]bool{}}
	f := newFixture(t, nil, apiAccessPod("web"), ca)
	issuer.install(f.client)
	f.run()
	f.waitPod("web", "CreateContainerConfigError", func(p *corev1.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	f.waitEvent(`serviceaccount "robot" not found`)
	if issuer.count() != 0 {
		t.Errorf("%d tokens minted for a missing account", issuer.count())
	}
}

func TestTokenDue(t *testing.T) {
	m := newTokenManager(nil, nil, 24*time.Hour)
	minted := time.Unix(1_700_000_000, 0)
	resp := func(asked int64, valid time.Duration) *authenticationv1.TokenRequest {
		return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &asked},
			Status: authenticationv1.TokenRequestStatus{ExpirationTimestamp: metav1.NewTime(minted.Add(valid))}}
	}
	for _, tc := range []struct {
		name  string
		asked int64
		valid time.Duration
		want  time.Duration
	}{
		{"an hour: at 80%", 3600, time.Hour, 48 * time.Minute},
		{"extended to a year: by the hour asked", 3607, 365 * 24 * time.Hour, 3607 * time.Second * 8 / 10},
		{"two days: at the maximum age", 48 * 3600, 48 * time.Hour, 24 * time.Hour},
	} {
		if got := m.due(minted, resp(tc.asked, tc.valid)).Sub(minted); got != tc.want {
			t.Errorf("%s: due after %s, want %s", tc.name, got, tc.want)
		}
	}
}

// A downward-API volume's labels and annotations follow the pod's: a
// label change reaches the running workload's files in place, with their
// modes, as the kubelet's sync rewrites them.
func TestDownwardAPIRefreshOnLabelChange(t *testing.T) {
	b, _ := memory.New(memory.Config{})
	pod := newPod("labelled")
	pod.Labels = map[string]string{"tier": "one"}
	pod.Spec.Volumes = []corev1.Volume{{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		DefaultMode: ptr.To[int32](0o400),
		Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}, Mode: ptr.To[int32](0o600)},
		}}}}}
	f := newFixtureWith(t, b, nil, pod)
	f.run()
	p := f.waitPod("labelled", "Running", running)
	if got := filesOf(b.Workload(p.UID), "podinfo")["labels"]; got != `tier="one"` {
		t.Fatalf("labels file %q", got)
	}
	p = p.DeepCopy()
	p.Labels["tier"] = "two"
	p.Annotations = map[string]string{"note": "x"}
	if _, err := f.client.CoreV1().Pods(p.Namespace).Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new labels and annotations in the running workload", func() bool {
		files := filesOf(b.Workload(p.UID), "podinfo")
		return files["labels"] == `tier="two"` && files["annotations"] == `note="x"`
	})
	modes := map[string]int32{}
	for _, file := range b.Workload(p.UID).Volumes["podinfo"] {
		modes[file.Path] = file.Mode
	}
	if modes["labels"] != 0o400 || modes["annotations"] != 0o600 || b.Creates() != 1 {
		t.Errorf("modes %v, creates %d", modes, b.Creates())
	}
}
