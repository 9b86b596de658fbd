package system

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Environment variable names that Kubernetes allows and ACI does not
// (data-1, a.b, ConfigMap keys with dashes or a leading digit, a Secret's
// keys under a prefix with a dot) reach the container as written: its
// `env` shows them in kubectl logs.
func TestEnvNames(t *testing.T) {
	ns := namespace(t)
	createObject(t, env.Client.CoreV1().ConfigMaps(ns).Create, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dashed"},
		Data: map[string]string{"dashed-key": "from-configmap", "1st": "first"}})
	createObject(t, env.Client.CoreV1().Secrets(ns).Create, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data: map[string][]byte{"pass-word": []byte("hidden")}})
	ctr := corev1.Container{Name: "main", Image: env.Regs.Images.Shell, Command: []string{"/bin/env"},
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "dashed"}}},
			{Prefix: "secret.", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
		},
		Env: []corev1.EnvVar{{Name: "data-1", Value: "one"}, {Name: "a.b", Value: "two"}, {Name: "ref-1", Value: "$(data-1)+$(a.b)"}},
	}
	pod := virtualPod("env-names", ctr)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	createPod(t, ns, pod)
	waitPod(t, ns, "env-names", "Succeeded", 2*time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })

	lines := strings.Split(mustKubectl(t, nil, "logs", "-n", ns, "env-names"), "\n")
	for _, want := range []string{"data-1=one", "a.b=two", "ref-1=one+two", "dashed-key=from-configmap", "1st=first",
		"secret.pass-word=hidden"} {
		if !slices.Contains(lines, want) {
			t.Errorf("the container's environment lacks %s: %q", want, lines)
		}
	}
}
