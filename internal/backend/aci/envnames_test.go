package aci

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// envNamesWorkload has a container and an init container whose resolved
// environments hold Kubernetes' names that ACI refuses, beside good ones.
func envNamesWorkload() *backend.Workload {
	pod := testPod(corev1.Container{Name: "main", Image: "img"})
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "img"}}
	return &backend.Workload{Pod: pod, Env: map[string][]backend.EnvVar{
		"main": {{Name: "GOOD_1", Value: "1"}, {Name: "data-1", Value: "d"}, {Name: "a.b", Value: "s", Secret: true},
			{Name: "pod.ip", FieldPath: "status.podIP"}},
		"setup": {{Name: "1st", Value: "x"}},
	}}
}

// Without the env-names extension (Azure), names that ACI refuses fail the
// conversion, naming each with its container; with it they pass unchanged,
// secure and group-filled ones too.
func TestConvertEnvNames(t *testing.T) {
	_, err := convert(envNamesWorkload(), testOptions())
	if err == nil {
		t.Fatal("names that ACI refuses were converted without the env-names extension")
	}
	for _, want := range []string{`"data-1" in container "main"`, `"a.b" in container "main"`, `"pod.ip" in container "main"`,
		`"1st" in init container "setup"`, "letter or '_'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "GOOD_1") {
		t.Errorf("error %q names a good variable", err)
	}

	o := testOptions()
	o.envNames, o.fieldEnv = true, true
	s, err := convert(envNamesWorkload(), o)
	if err != nil {
		t.Fatalf("with env-names: %v", err)
	}
	var got []string
	for _, v := range s.group.Properties.Containers[0].Properties.EnvironmentVariables {
		got = append(got, fmt.Sprintf("%s=%s/%s", deref(v.Name), deref(v.Value), deref(v.SecureValue)))
	}
	if want := "GOOD_1=1/ data-1=d/ a.b=/s pod.ip=/"; strings.Join(got, " ") != want {
		t.Errorf("variables %q, want %q", strings.Join(got, " "), want)
	}
	if fe := s.ext.FieldEnv["main"]; len(fe) != 1 || fe[0].Name != "pod.ip" {
		t.Errorf("field env %+v, want pod.ip", fe)
	}
	if ic := s.group.Properties.InitContainers[0].Properties.EnvironmentVariables; len(ic) != 1 || deref(ic[0].Name) != "1st" {
		t.Errorf("init container variables %+v", ic)
	}
}

// A pod with many refused names gets a bounded message.
func TestConvertEnvNamesMessageIsBounded(t *testing.T) {
	w := envNamesWorkload()
	for i := range 20 {
		w.Env["main"] = append(w.Env["main"], backend.EnvVar{Name: fmt.Sprintf("key-%d", i)})
	}
	_, err := convert(w, testOptions())
	if err == nil || !strings.Contains(err.Error(), "and 19 more") || strings.Contains(err.Error(), "key-5") {
		t.Errorf("err = %v, want five names and 19 more", err)
	}
}

// ACI's rule as the backend applies it.
func TestACIEnvName(t *testing.T) {
	for n, ok := range map[string]bool{"A": true, "_x": true, "MY_NAME_2": true, "a1": true,
		"": false, "1st": false, "data-1": false, "a.b": false, "A=B": false, "with space": false} {
		if aciEnvName.MatchString(n) != ok {
			t.Errorf("ACI's rule on %q: %v, want %v", n, !ok, ok)
		}
	}
}
