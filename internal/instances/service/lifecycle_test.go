package service

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/validate"
	"github.com/vnode-io/vnode/internal/wire"
)

// A container's hooks and the group's grace period reach the runtime's
// spec, stay in the stored group (GET returns them as PUT sent them), and
// a bad hook is refused before anything runs.
func TestLifecycleHooks(t *testing.T) {
	grace := int64(20)
	ext := wire.GroupExtensions{TerminationGracePeriodSeconds: &grace, Lifecycle: map[string]wire.Lifecycle{"main": {
		PostStart: &wire.LifecycleHandler{Exec: &wire.ExecAction{Command: []string{"touch", "/tmp/started"}}},
		PreStop: &wire.LifecycleHandler{HTTPGet: &wire.HTTPGetAction{Path: "/drain", Port: 8080, Host: "10.241.0.9",
			HTTPHeaders: []wire.HTTPHeader{{Name: "X-A", Value: "1"}}}},
	}}}
	body := groupBody("local", "Always", 1, 1, "x")
	spec, err := runtimeSpec("uid", "web", "id", body, &secretValues{}, ext)
	if err != nil {
		t.Fatal(err)
	}
	want := &runtime.Lifecycle{PostStart: &runtime.Hook{Exec: []string{"touch", "/tmp/started"}},
		PreStop: &runtime.Hook{HTTPGet: &runtime.HTTPGetHook{Host: "10.241.0.9", Port: 8080, Path: "/drain",
			Headers: []runtime.HTTPHeader{{Name: "X-A", Value: "1"}}}}}
	if got := spec.Containers[0].Lifecycle; !reflect.DeepEqual(got, want) {
		t.Errorf("runtime hooks %+v, want %+v", got, want)
	}
	if spec.GracePeriod == nil || *spec.GracePeriod != 20*time.Second {
		t.Errorf("grace period %v, want 20s", spec.GracePeriod)
	}
	sleep := hook(&wire.LifecycleHandler{Sleep: &wire.SleepAction{Seconds: 3}})
	if sleep.Sleep == nil || *sleep.Sleep != 3*time.Second || !hook(&wire.LifecycleHandler{TCPSocket: &wire.TCPSocket{Port: 1}}).TCPSocket {
		t.Errorf("sleep %+v or tcpSocket hooks", sleep)
	}

	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "web"}
	if _, err := h.s.CreateOrUpdate(h.ctx, ref, body, ext); err != nil {
		t.Fatal(err)
	}
	h.waitSettled(ref)
	g, err := h.s.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(g)
	if err == nil {
		data, err = wire.ApplyGroup(data, h.s.Additions(ref))
	}
	if err != nil {
		t.Fatal(err)
	}
	if back, err := wire.ParseGroup(data); err != nil || !back.Equal(ext) {
		t.Errorf("GET's hooks %+v, %v; want %+v", back.Lifecycle, err, ext.Lifecycle)
	}
	bad := wire.GroupExtensions{Lifecycle: map[string]wire.Lifecycle{"main": {
		PostStart: &wire.LifecycleHandler{HTTPGet: &wire.HTTPGetAction{Port: 80, Host: "169.254.169.254.nip.io"}}}}}
	_, err = h.s.CreateOrUpdate(h.ctx, Ref{Subscription: "sub", ResourceGroup: "rg", Name: "bad"}, groupBody("local", "Always", 1, 1, "x"), bad)
	var ae *errdefs.Error
	if !errors.As(err, &ae) || ae.Code != validate.CodeInvalidContainerLifecycle {
		t.Errorf("a hook with a host name: %v", err)
	}
}
