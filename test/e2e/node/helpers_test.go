package node

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

func newNamespace(t *testing.T) string { return framework.NewNamespace(t, env.client) }

// akSample is the AKS documentation's virtual-node sample Deployment, with
// its nodeSelector and tolerations unchanged.
func aksSample(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "aci-helloworld"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "aci-helloworld"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name: "aci-helloworld", Image: "localhost:5000/hello:latest",
						Ports: []corev1.ContainerPort{{ContainerPort: 80}},
					}},
					NodeSelector: map[string]string{
						"kubernetes.io/role": "agent", "beta.kubernetes.io/os": "linux", "type": "virtual-kubelet",
					},
					Tolerations: []corev1.Toleration{
						{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists},
						{Key: "azure.com/aci", Effect: corev1.TaintEffectNoSchedule},
					},
				},
			},
		},
	}
}

// podsIn lists the pods of a namespace.
func podsIn(ns string) ([]corev1.Pod, error) {
	list, err := env.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// countRunningReady counts pods that are Running and Ready on the default
// virtual node.
func countRunningReady(pods []corev1.Pod) int {
	n := 0
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName == "virtual-node-aci-linux" && p.Status.Phase == corev1.PodRunning && isReady(p) {
			n++
		}
	}
	return n
}

func scale(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	if err := framework.Scale(context.Background(), env.client, ns, name, replicas); err != nil {
		t.Fatal(err)
	}
}
