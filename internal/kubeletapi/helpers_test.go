package kubeletapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
)

const testNode = "vn"

// fakePods is a fixed set of pods.
type fakePods map[string]*corev1.Pod

func (f fakePods) Pod(ns, name string) (*corev1.Pod, bool) {
	p, ok := f[ns+"/"+name]
	return p, ok
}

func (f fakePods) Pods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range f {
		out = append(out, p)
	}
	return out
}

// headerAuth authenticates "Authorization: User NAME" as NAME.
type headerAuth struct{}

func (headerAuth) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	name, ok := strings.CutPrefix(r.Header.Get("Authorization"), "User ")
	if !ok {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
}

// userAuthz allows "admin" everything, and "reader" only nodes/stats.
type userAuthz struct{}

func (userAuthz) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	switch {
	case a.GetUser().GetName() == "admin":
		return authorizer.DecisionAllow, "", nil
	case a.GetUser().GetName() == "reader" && a.GetSubresource() == "stats":
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "uid-" + k8stypes.UID(name)},
		Spec: corev1.PodSpec{
			NodeName:      testNode,
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "app", Image: "hello"}},
		},
	}
}

// fixture is a handler over a memory backend that runs pod ns/p.
type fixture struct {
	t       *testing.T
	clock   *clocktesting.FakeClock
	backend *memory.Backend
	server  *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	b, err := memory.New(memory.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	pod := testPod("p")
	running := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b.Subscribe(ctx, func(s *backend.PodState) {
		if len(s.Containers) == 1 && s.Containers[0].State == backend.Running {
			select {
			case <-running:
			default:
				close(running)
			}
		}
	})
	if err := b.Create(ctx, &backend.Workload{Pod: pod}); err != nil {
		t.Fatal(err)
	}
	clk.Step(0)
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("the pod never ran")
	}
	return &fixture{t: t, clock: clk, backend: b, server: serve(t, b, fakePods{"ns/p": pod}, clk)}
}

func serve(t *testing.T, b backend.Backend, pods fakePods, clk *clocktesting.FakeClock) *httptest.Server {
	t.Helper()
	h, err := NewHandler(HandlerConfig{
		NodeName: testNode, Pods: pods, Backend: b, Authenticator: headerAuth{}, Authorizer: userAuthz{},
		Clock: clk, StartTime: clk.Now().Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// get requests path as user ("" for anonymous) and returns the status
// and body.
func get(t *testing.T, srv *httptest.Server, user, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "User "+user)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
