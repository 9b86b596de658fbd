package pods

import (
	"context"
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
)

type mapSource struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

func (m mapSource) secret(_ context.Context, _, name string) (*corev1.Secret, bool, error) {
	s, ok := m.secrets[name]
	return s, ok, nil
}

func (m mapSource) configMap(_ context.Context, _, name string) (*corev1.ConfigMap, bool, error) {
	c, ok := m.configMaps[name]
	return c, ok, nil
}

func envPod(c corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "vn", ServiceAccountName: "sa", Containers: []corev1.Container{c}, EnableServiceLinks: ptr.To(false)},
		Status:     corev1.PodStatus{PodIP: "10.241.0.9", HostIP: "192.0.2.2"},
	}
}

func source() mapSource {
	return mapSource{
		secrets:    map[string]*corev1.Secret{"db": {Data: map[string][]byte{"password": []byte("s3cret"), "user": []byte("admin")}}},
		configMaps: map[string]*corev1.ConfigMap{"cfg": {Data: map[string]string{"MODE": "fast", "LEVEL": "3", "data-1": "x"}}},
	}
}

func envMap(env []backend.EnvVar) map[string]backend.EnvVar {
	m := map[string]backend.EnvVar{}
	for _, e := range env {
		m[e.Name] = e
	}
	return m
}

func TestContainerEnv(t *testing.T) {
	c := corev1.Container{
		Name: "app",
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
		},
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}},
		},
		Env: []corev1.EnvVar{
			{Name: "MODE", Value: "slow"}, // env wins over envFrom
			{Name: "GREETING", Value: "mode=$(MODE) level=$(LEVEL) keep=$(UNDEFINED) dollar=$$(MODE)"},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
			{Name: "URL", Value: "postgres://$(DB_user):$(PASSWORD)@db"},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "CPU_MILLI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k", Optional: ptr.To(true)}}},
		},
	}
	r := &resolver{objects: source(), allocatable: func() corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}
	}}
	env, err := r.containerEnv(context.Background(), envPod(c), &c, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := envMap(env)
	want := map[string]string{
		"MODE": "slow", "LEVEL": "3", "data-1": "x", "DB_password": "s3cret", "DB_user": "admin",
		"GREETING":  "mode=slow level=3 keep=$(UNDEFINED) dollar=$(MODE)",
		"PASSWORD":  "s3cret",
		"URL":       "postgres://admin:s3cret@db",
		"POD_NAME":  "web",
		"APP":       "web",
		"POD_IP":    "10.241.0.9",
		"NODE":      "vn",
		"CPU_MILLI": "250",
		"MEM_MI":    "128",
		"CPU_LIMIT": "8",
	}
	for k, v := range want {
		if got[k].Value != v {
			t.Errorf("%s = %q, want %q", k, got[k].Value, v)
		}
	}
	for _, k := range []string{"DB_password", "PASSWORD", "URL"} {
		if !got[k].Secret {
			t.Errorf("%s came from a Secret but is not marked secret", k)
		}
	}
	for _, k := range []string{"MODE", "GREETING", "POD_NAME"} {
		if got[k].Secret {
			t.Errorf("%s is marked secret", k)
		}
	}
	// The pod's IP may only be known to the backend: it is marked so.
	for k, v := range got {
		if want := map[string]string{"POD_IP": "status.podIP"}[k]; v.FieldPath != want {
			t.Errorf("%s has field path %q, want %q", k, v.FieldPath, want)
		}
	}
	if _, ok := got["OPTIONAL"]; ok {
		t.Error("an optional reference to a missing secret defined the variable")
	}
}

// envFrom keys become variables when, prefixed, they are names by
// Kubernetes' rule (data-1, a.b, 1st); others are skipped with the
// kubelet's InvalidEnvironmentVariableNames event naming them.
func TestEnvFromKeys(t *testing.T) {
	src := mapSource{
		configMaps: map[string]*corev1.ConfigMap{"cm": {Data: map[string]string{
			"data-1": "a", "a.b": "b", "1st": "c", "bad=key": "d", "tab\tkey": "e"}}},
		secrets: map[string]*corev1.Secret{"sec": {Data: map[string][]byte{"x-y": []byte("s"), "=": []byte("t")}}},
	}
	c := corev1.Container{Name: "app", EnvFrom: []corev1.EnvFromSource{
		{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
		{Prefix: "p.", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
	}}
	rec := record.NewFakeRecorder(10)
	r := &resolver{objects: src, recorder: rec}
	env, err := r.containerEnv(context.Background(), envPod(c), &c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range env {
		names = append(names, e.Name)
	}
	if want := []string{"1st", "a.b", "data-1", "p.x-y"}; !slices.Equal(names, want) {
		t.Errorf("variables %q, want %q", names, want)
	}
	if got := envMap(env)["p.x-y"]; got.Value != "s" || !got.Secret {
		t.Errorf("p.x-y = %+v, want the Secret's value, secret", got)
	}
	for _, want := range []string{
		"Warning InvalidEnvironmentVariableNames Keys [bad=key, tab\tkey] from the EnvFrom configMap ns/cm were skipped " +
			"since they are considered invalid environment variable names.",
		"Warning InvalidEnvironmentVariableNames Keys [p.=] from the EnvFrom secret ns/sec were skipped " +
			"since they are considered invalid environment variable names.",
	} {
		select {
		case got := <-rec.Events:
			if got != want {
				t.Errorf("event %q, want %q", got, want)
			}
		default:
			t.Errorf("no event, want %q", want)
		}
	}
	select {
	case got := <-rec.Events:
		t.Errorf("unexpected event %q", got)
	default:
	}
}

func TestMissingReferencesAreConfigErrors(t *testing.T) {
	ref := func(name, key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
	}
	for _, tc := range []struct {
		name string
		env  corev1.EnvVar
		want string
	}{
		{"missing secret", corev1.EnvVar{Name: "A", ValueFrom: ref("absent", "k")}, `secret "absent" not found`},
		{"missing key", corev1.EnvVar{Name: "A", ValueFrom: ref("db", "nope")}, "couldn't find key nope in Secret ns/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := corev1.Container{Name: "app", Env: []corev1.EnvVar{tc.env}}
			r := &resolver{objects: source()}
			_, err := r.containerEnv(context.Background(), envPod(c), &c, nil)
			var cfgErr *configError
			if !errors.As(err, &cfgErr) || cfgErr.message != tc.want {
				t.Errorf("err = %v, want config error %q", err, tc.want)
			}
		})
	}
}

func TestVolumeFiles(t *testing.T) {
	pod := envPod(corev1.Container{Name: "app"})
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items:                []corev1.KeyToPath{{Key: "MODE", Path: "conf/mode", Mode: ptr.To[int32](0o600)}},
		}}},
		{Name: "db", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}}},
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			// A limit the container leaves unset is the node's allocatable.
			{Path: "cpu_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu",
				Divisor: resource.MustParse("1m")}},
		}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	r := &resolver{objects: source(), allocatable: func() corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}
	}}
	vols, err := r.volumes(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	if f := vols["cfg"]; len(f) != 1 || f[0].Path != "conf/mode" || string(f[0].Data) != "fast" || f[0].Mode != 0o600 || f[0].Secret {
		t.Errorf("configMap files %+v", f)
	}
	if f := vols["db"]; len(f) != 2 || !f[0].Secret || f[0].Mode != 0o644 {
		t.Errorf("secret files %+v", f)
	}
	if f := vols["info"]; len(f) != 2 || string(f[0].Data) != "web" || f[1].Path != "cpu_limit" || string(f[1].Data) != "8000" {
		t.Errorf("downward API files %+v", f)
	}
	if _, ok := vols["scratch"]; ok {
		t.Error("an emptyDir got files")
	}
}

func TestExpand(t *testing.T) {
	lookup := func(name string) (string, bool, bool) {
		switch name {
		case "A":
			return "1", false, true
		case "S":
			return "x", true, true
		}
		return "", false, false
	}
	for in, want := range map[string]string{
		"plain": "plain", "$(A)": "1", "$(A)$(A)": "11", "$$(A)": "$(A)", "$(B)": "$(B)",
		"$(A": "$(A", "a$b": "a$b", "end$": "end$", "$(S)-$(A)": "x-1",
	} {
		if got, _ := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
	if _, secret := expand("$(S)", lookup); !secret {
		t.Error("a secret value expanded into another was not marked secret")
	}
}

// A new pod, whose status has no hostIP yet, gets the node's IP in its
// environment and downward-API files, as on a kubelet; a pod whose status
// has one keeps it.
func TestHostIPBeforeTheFirstStatus(t *testing.T) {
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	c := corev1.Container{Name: "app", Env: []corev1.EnvVar{
		{Name: "HOST_IP", ValueFrom: field("status.hostIP")},
		{Name: "HOST_IPS", ValueFrom: field("status.hostIPs")},
	}}
	pod := envPod(c)
	pod.Status = corev1.PodStatus{}
	pod.Spec.Volumes = []corev1.Volume{{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: []corev1.DownwardAPIVolumeFile{{Path: "host", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}}}}}}
	r := &resolver{objects: source(), hostIP: "192.0.2.7"}
	w, err := r.workload(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	got := envMap(w.Env["app"])
	if got["HOST_IP"].Value != "192.0.2.7" || got["HOST_IPS"].Value != "192.0.2.7" {
		t.Errorf("HOST_IP = %q, HOST_IPS = %q; want the node's 192.0.2.7", got["HOST_IP"].Value, got["HOST_IPS"].Value)
	}
	if files := w.Volumes["info"]; len(files) != 1 || string(files[0].Data) != "192.0.2.7" {
		t.Errorf("downward-API file = %+v; want host holding 192.0.2.7", files)
	}
	if w.Pod != pod || pod.Status.HostIP != "" {
		t.Error("the workload's pod is not the pod as given")
	}

	pod.Status.HostIP, pod.Status.HostIPs = "192.0.2.2", []corev1.HostIP{{IP: "192.0.2.2"}}
	w, err = r.workload(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	if got := envMap(w.Env["app"])["HOST_IP"].Value; got != "192.0.2.2" {
		t.Errorf("HOST_IP = %q; want the status's 192.0.2.2", got)
	}
}
