package fake

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

func TestUpdateVolumes(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	s := spec("g", "", ctr("a"))
	s.Volumes = []runtime.Volume{{Name: "cache", EmptyDir: true}, {Name: "creds", Secret: map[string][]byte{"old": []byte("1")}}}
	mustRun(t, r, s)
	before := status(t, r, "g")

	update := []runtime.Volume{{Name: "creds", Secret: map[string][]byte{"new": []byte("2")}}}
	if err := r.UpdateVolumes(ctx, "g", update); err != nil {
		t.Fatal(err)
	}
	update[0].Secret["new"][0] = 'x' // the runtime keeps its own copy
	vols, err := r.Volumes("g")
	if err != nil {
		t.Fatal(err)
	}
	want := []runtime.Volume{{Name: "cache", EmptyDir: true}, {Name: "creds", Secret: map[string][]byte{"new": []byte("2")}}}
	if !reflect.DeepEqual(vols, want) {
		t.Errorf("volumes %+v, want %+v", vols, want)
	}
	if after := status(t, r, "g"); after.Containers[0].RestartCount != 0 || !after.Containers[0].Current.StartTime.Equal(before.Containers[0].Current.StartTime) {
		t.Errorf("the update restarted a container: %+v", after.Containers[0])
	}
	if r.VolumeUpdates() != 1 || r.Runs() != 1 {
		t.Errorf("volume updates %d, runs %d", r.VolumeUpdates(), r.Runs())
	}

	var rerr *runtime.Error
	for _, bad := range [][]runtime.Volume{
		{{Name: "cache", Secret: map[string][]byte{}}},
		{{Name: "missing", Secret: map[string][]byte{}}},
		{{Name: "creds"}},
	} {
		if err := r.UpdateVolumes(ctx, "g", bad); !errors.As(err, &rerr) || rerr.Reason != runtime.ReasonInvalidSpec {
			t.Errorf("UpdateVolumes(%+v) = %v, want %s", bad, err, runtime.ReasonInvalidSpec)
		}
	}
	if err := r.UpdateVolumes(ctx, "nope", update); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("an unknown group: %v, want ErrNotFound", err)
	}

	// A stopped group keeps the files until its next Run.
	if err := r.Stop(ctx, "g", 0); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateVolumes(ctx, "g", []runtime.Volume{{Name: "creds", Secret: map[string][]byte{}}}); err != nil {
		t.Fatal(err)
	}
	if vols, _ := r.Volumes("g"); len(vols[1].Secret) != 0 {
		t.Errorf("stopped group's secret %v, want none", vols[1].Secret)
	}
}

// Variables filled from the group get its IP, in init containers as in
// containers, and a new IP on each Run.
func TestFieldEnv(t *testing.T) {
	r, _ := newTest(t, Options{})
	ctx := context.Background()
	ic := ctr("init")
	ic.Env = []runtime.EnvVar{{Name: "MY_IP", FromField: runtime.FieldPodIPs}}
	main := ctr("main")
	main.Env = []runtime.EnvVar{{Name: "A", Value: "1"}, {Name: "POD_IP", FromField: runtime.FieldPodIP}}
	s := spec("g", "", main)
	s.InitContainers = []runtime.ContainerSpec{ic}
	mustRun(t, r, s)
	ip := status(t, r, "g").IP
	var out bytes.Buffer
	if _, err := r.Exec(ctx, "g", "main", []string{"env"}, runtime.Streams{Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if want := "A=1\nPOD_IP=" + ip + "\n"; out.String() != want {
		t.Errorf("env %q, want %q", out.String(), want)
	}
	r.mu.Lock()
	initEnv := r.groups["g"].inits[0].spec.Env
	r.mu.Unlock()
	if len(initEnv) != 1 || initEnv[0].Value != ip {
		t.Errorf("init container env %+v, want MY_IP=%s", initEnv, ip)
	}
	if s.Containers[0].Env[1].Value != "" {
		t.Error("Run changed the caller's spec")
	}
}
