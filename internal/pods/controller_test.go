package pods

import (
	"context"
	"errors"
	dto "github.com/prometheus/client_model/go"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
)

const testNode = "vn"

type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	backend  *memory.Backend
	recorder *record.FakeRecorder
	ctrl     *Controller
}

func newFixture(t *testing.T, b *memory.Backend, objects ...runtime.Object) *fixture {
	t.Helper()
	return newFixtureWith(t, b, nil, objects...)
}

// newFixtureWith is newFixture with tune applied to the controller's
// configuration (nil: none).
func newFixtureWith(t *testing.T, b *memory.Backend, tune func(*ControllerConfig), objects ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objects...)
	// As the API server does, a write of the status subresource changes
	// the status only: the fake tracker would otherwise replace the whole
	// pod, and a status write racing a test's update (a deletion
	// timestamp, say) would undo it.
	pods := corev1.SchemeGroupVersion.WithResource("pods")
	client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		u, ok := a.(k8stesting.UpdateAction)
		if !ok || u.GetSubresource() != "status" {
			return false, nil, nil
		}
		pod := u.GetObject().(*corev1.Pod)
		stored, err := client.Tracker().Get(pods, pod.Namespace, pod.Name)
		if err != nil {
			return true, nil, err
		}
		updated := stored.(*corev1.Pod).DeepCopy()
		updated.Status = pod.Status
		if err := client.Tracker().Update(pods, updated, pod.Namespace); err != nil {
			return true, nil, err
		}
		return true, updated, nil
	})
	if b == nil {
		var err error
		if b, err = memory.New(memory.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	rec := record.NewFakeRecorder(10000)
	cfg := ControllerConfig{
		Client: client, Backend: b, NodeName: testNode, HostIP: "192.0.2.2", Recorder: rec,
		Workers: 4, OrphanGrace: time.Millisecond, GCInterval: 50 * time.Millisecond,
	}
	if tune != nil {
		tune(&cfg)
	}
	ctrl, err := NewController(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, client: client, backend: b, recorder: rec, ctrl: ctrl}
}

func (f *fixture) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		if err := f.ctrl.Run(ctx); err != nil {
			f.t.Errorf("Run: %v", err)
		}
		close(done)
	}()
	f.t.Cleanup(func() { cancel(); <-done })
}

func (f *fixture) pod(name string) *corev1.Pod {
	p, err := f.client.CoreV1().Pods("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return p
}

func (f *fixture) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p := f.pod(name); cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("pod %s: timed out waiting for %s; now %+v", name, what, f.pod(name))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) waitEvent(substr string) {
	f.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-f.recorder.Events:
			if strings.Contains(e, substr) {
				return
			}
		case <-timeout:
			f.t.Fatalf("no event containing %q", substr)
		}
	}
}

// waitInformer waits until the controller's informer holds the pod in the
// state cond wants. Tests that write the pod wait for it first: a status
// write from an older copy would overwrite their change, because the fake
// clientset, unlike the API server, neither refuses stale writes nor keeps
// metadata out of status updates.
func (f *fixture) waitInformer(name string, cond func(*corev1.Pod) bool) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := f.ctrl.pods.Pods("ns").Get(name)
		if err == nil && cond(p) {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the informer never saw pod %s in the wanted state", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncCount returns how many syncs the controller has finished.
func (f *fixture) syncCount() uint64 {
	var m dto.Metric
	if err := f.ctrl.cfg.Metrics.syncDuration.Write(&m); err != nil {
		f.t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// requeueAndWaitForSync queues key and waits until a sync has finished
// after that, so a test can check what the sync did (or did not) write.
func (f *fixture) requeueAndWaitForSync(key string) {
	f.t.Helper()
	before := f.syncCount()
	f.ctrl.queue.Add(key)
	deadline := time.Now().Add(10 * time.Second)
	for f.syncCount() == before {
		if time.Now().After(deadline) {
			f.t.Fatalf("no sync of %s", key)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName: testNode, RestartPolicy: corev1.RestartPolicyAlways,
			Containers: []corev1.Container{{Name: "app", Image: "hello"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func running(p *corev1.Pod) bool { return p != nil && p.Status.Phase == corev1.PodRunning }

func TestPodRunsAndIsDeletedWhenContainersStop(t *testing.T) {
	b, _ := memory.New(memory.Config{StopDelay: 100 * time.Millisecond})
	f := newFixture(t, b, newPod("web"))
	f.run()
	p := f.waitPod("web", "Running", running)
	if p.Status.PodIP == "" || !p.Status.ContainerStatuses[0].Ready {
		t.Errorf("status %+v", p.Status)
	}
	f.waitEvent("Started container app")
	f.waitInformer("web", running)
	p = f.pod("web")

	// The API server marks the pod for deletion; the agent stops the
	// workload and deletes the pod once the containers have stopped.
	p.DeletionTimestamp = ptr.To(metav1.Now())
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	if _, err := f.client.CoreV1().Pods("ns").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitPod("web", "deletion", func(p *corev1.Pod) bool { return p == nil })
	var deleteAction k8stesting.DeleteAction
	for _, a := range f.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			deleteAction = d
		}
	}
	opts := deleteAction.GetDeleteOptions()
	if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds != 0 || opts.Preconditions == nil || *opts.Preconditions.UID != "uid-web" {
		t.Errorf("delete options %+v, want grace 0 and a UID precondition", opts)
	}
	if b.Len() != 0 {
		t.Errorf("%d workloads left in the backend", b.Len())
	}
}

func TestStatusIsWrittenOnlyOnChange(t *testing.T) {
	f := newFixture(t, nil, newPod("web"))
	f.run()
	f.waitPod("web", "Running", running)
	f.waitInformer("web", running)
	count := func() int {
		n := 0
		for _, a := range f.client.Actions() {
			if a.GetVerb() == "update" && a.GetSubresource() == "status" {
				n++
			}
		}
		return n
	}
	// A sync that began before the informer saw the agent's last write may
	// write once more; wait until a whole sync writes nothing. If every
	// sync wrote, this never happens and the test fails.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := count()
		f.requeueAndWaitForSync("ns/web")
		if count() == n && f.ctrl.queue.Len() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status still written on every sync: %d writes", count())
		}
	}
	before := count()
	// Requeue the pod a few times without any change, one sync at a time.
	for range 5 {
		f.requeueAndWaitForSync("ns/web")
	}
	if after := count(); after != before {
		t.Errorf("%d status writes without a change", after-before)
	}
}

func TestDaemonSetPodIsRefused(t *testing.T) {
	pod := newPod("ds")
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "ds-uid", Controller: ptr.To(true)}}
	f := newFixture(t, nil, pod)
	f.run()
	p := f.waitPod("ds", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if p.Status.Reason != "DaemonSetNotSupported" {
		t.Errorf("reason %q", p.Status.Reason)
	}
	f.waitEvent("DaemonSetNotSupported")
	if f.backend.Creates() != 0 {
		t.Error("a DaemonSet pod was run")
	}
}

func TestMissingSecretWaitsAndStartsWhenCreated(t *testing.T) {
	pod := newPod("needs-secret")
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "token"}, Key: "value"},
	}}}
	f := newFixture(t, nil, pod)
	f.run()
	p := f.waitPod("needs-secret", "CreateContainerConfigError", func(p *corev1.Pod) bool {
		w := p.Status.ContainerStatuses
		return len(w) == 1 && w[0].State.Waiting != nil && w[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	if !strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, `secret "token" not found`) {
		t.Errorf("message %q", p.Status.ContainerStatuses[0].State.Waiting.Message)
	}
	f.waitEvent(`Error: secret "token" not found`)

	_, err := f.client.CoreV1().Secrets("ns").Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: "ns"}, Data: map[string][]byte{"value": []byte("t0k3n")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.waitPod("needs-secret", "Running", running)
	w := f.backend.Workload("uid-needs-secret")
	if w == nil {
		t.Fatal("no workload")
	}
}

func TestBackendFailureNeverPolicyFailsPod(t *testing.T) {
	pod := newPod("refused")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Annotations = map[string]string{memory.AnnotationFailCreate: "image too large"}
	f := newFixture(t, nil, pod)
	f.run()
	p := f.waitPod("refused", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if p.Status.Reason != "ProviderFailed" || !strings.Contains(p.Status.Message, "image too large") {
		t.Errorf("reason %q message %q", p.Status.Reason, p.Status.Message)
	}
	f.waitEvent("ProviderFailed")
}

func TestRetryableFailureIsRetried(t *testing.T) {
	b, _ := memory.New(memory.Config{})
	calls := 0
	b.SetCreateHook(func(*backend.Workload) error {
		calls++
		if calls <= 2 {
			return backend.ErrRetryable
		}
		return nil
	})
	f := newFixture(t, b, newPod("flaky"))
	f.run()
	f.waitEvent("ProviderFailed")
	f.waitPod("flaky", "Running", running)
}

func TestAdoptsExistingWorkloadsAndCollectsOrphans(t *testing.T) {
	b, _ := memory.New(memory.Config{})
	pod := newPod("kept")
	orphan := newPod("orphan")
	for _, p := range []*corev1.Pod{pod, orphan} {
		if err := b.Create(context.Background(), &backend.Workload{Pod: p}); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixture(t, b, pod) // the orphan's pod no longer exists
	f.run()
	f.waitPod("kept", "Running", running)
	deadline := time.Now().Add(10 * time.Second)
	for b.Workload("uid-orphan") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the orphaned workload was not deleted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b.Creates() != 2 || b.Workload("uid-kept") == nil {
		t.Errorf("creates %d; the adopted workload must be neither created again nor deleted", b.Creates())
	}
}

// A finished pod that the backend no longer runs (after an agent restart)
// keeps its final status: nothing is created and nothing rewritten.
func TestFinishedPodKeepsItsStatus(t *testing.T) {
	pod := newPod("done")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: backend.ReasonProviderFailed, Message: "image too large"}
	f := newFixture(t, nil, pod)
	f.run()
	f.waitInformer("done", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	f.requeueAndWaitForSync("ns/done")
	for _, a := range f.client.Actions() {
		if a.GetSubresource() == "status" {
			t.Fatalf("a finished pod's status was rewritten: %v", a)
		}
	}
	if f.backend.Creates() != 0 {
		t.Error("a finished pod was run again")
	}
}

// The controller waits for the backend's list before creating anything,
// so that a backend unreachable at start never gets its workloads twice.
func TestAdoptionWaitsForTheBackend(t *testing.T) {
	b, _ := memory.New(memory.Config{})
	pod := newPod("kept")
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil {
		t.Fatal(err)
	}
	b.SetListError(errors.New("backend starting"))
	f := newFixture(t, b, pod)
	f.run()
	// Nothing can sync before the list succeeds, so once a list has
	// failed the pod must still be untouched.
	deadline := time.Now().Add(10 * time.Second)
	for b.Lists() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the controller never listed the backend")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f.pod("kept").Status.Phase == corev1.PodRunning {
		t.Fatal("the pod was synced before the backend's workloads were adopted")
	}
	b.SetListError(nil)
	f.waitPod("kept", "Running", running)
	if b.Creates() != 1 {
		t.Errorf("%d creates, want the adopted workload only", b.Creates())
	}
}
