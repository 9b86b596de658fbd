package aci_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// envNamesWorkload is a pod whose environment has names that Kubernetes
// allows and ACI does not: data-1, and a.b from a Secret.
func envNamesWorkload(name string) *backend.Workload {
	w := workload(name, "1")
	w.Env["main"] = append(w.Env["main"], backend.EnvVar{Name: "data-1", Value: "d"}, backend.EnvVar{Name: "a.b", Value: "s", Secret: true})
	return w
}

// vnode's service takes Kubernetes' names (env-names): the pod runs and
// its container sees the variables as named.
func TestBackendEnvNames(t *testing.T) {
	b, rec := newBackend(t, startService(t, nil))
	ctx := testContext(t)
	w := envNamesWorkload("envnames")
	if err := b.Create(ctx, w); err != nil {
		t.Fatalf("create: %v", err)
	}
	rec.waitFor(t, w.Pod.UID, "Running with an IP", running)
	var out bytes.Buffer
	ref := backend.PodRef{UID: w.Pod.UID, Namespace: "default", Name: "envnames"}
	if err := b.Exec(ctx, ref, "main", []string{"env"}, backend.Streams{Stdout: &out}); err != nil {
		t.Fatalf("exec env: %v", err)
	}
	for _, want := range []string{"data-1=d", "a.b=s", "A=1"} {
		if !slices.Contains(strings.Split(out.String(), "\n"), want) {
			t.Errorf("the container's environment %q lacks %s", out.String(), want)
		}
	}
}

// Against a service without env-names (Azure), such a pod fails at once,
// naming the variables and the container, and no group is created.
func TestBackendEnvNamesWithoutTheExtension(t *testing.T) {
	announced := slices.DeleteFunc(wire.Extensions(), func(n string) bool { return n == wire.ExtEnvNames })
	b, _ := newBackend(t, announce(t, startService(t, nil), wire.FormatExtensions(announced)))
	ctx := testContext(t)
	err := b.Create(ctx, envNamesWorkload("azure"))
	if !errors.Is(err, backend.ErrUnsatisfiable) {
		t.Fatalf("err = %v, want ErrUnsatisfiable", err)
	}
	for _, want := range []string{`"data-1" in container "main"`, `"a.b" in container "main"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %s", err, want)
		}
	}
	states, err := b.List(ctx)
	if err != nil || len(states) != 0 {
		t.Errorf("groups after the refusal: %+v, %v", states, err)
	}
	// Names that ACI takes still run there.
	if err := b.Create(ctx, workload("plain", "1")); err != nil {
		t.Errorf("a pod with ACI's names: %v", err)
	}
}
