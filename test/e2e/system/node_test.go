package system

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// stats/summary and metrics/resource through the API server carry the
// running pods' real, non-zero usage.
func TestStatsAndMetrics(t *testing.T) {
	ns := namespace(t)
	createPod(t, ns, virtualPod("busy", shell("main", "while true; do :; done")))
	waitPod(t, ns, "busy", "Running", 2*time.Minute, running)

	node := "/api/v1/nodes/" + localcluster.NodeName + "/proxy"
	framework.WaitFor(t, "the busy pod's stats", time.Minute, func() (bool, error) {
		var summary statsv1alpha1.Summary
		if err := json.Unmarshal([]byte(mustKubectl(t, nil, "get", "--raw", node+"/stats/summary")), &summary); err != nil {
			return false, err
		}
		if summary.Node.NodeName != localcluster.NodeName {
			return false, fmt.Errorf("summary of node %q", summary.Node.NodeName)
		}
		for _, p := range summary.Pods {
			if p.PodRef.Namespace != ns || p.PodRef.Name != "busy" || len(p.Containers) != 1 {
				continue
			}
			c := p.Containers[0]
			ok := c.Name == "main" && c.CPU != nil && c.CPU.UsageCoreNanoSeconds != nil && *c.CPU.UsageCoreNanoSeconds > 0 &&
				c.CPU.UsageNanoCores != nil && *c.CPU.UsageNanoCores > 0 &&
				c.Memory != nil && c.Memory.WorkingSetBytes != nil && *c.Memory.WorkingSetBytes > 0
			return ok, fmt.Errorf("container stats %+v", c)
		}
		return false, fmt.Errorf("no stats of the busy pod among %d pods", len(summary.Pods))
	})

	framework.WaitFor(t, "the busy pod's resource metrics", time.Minute, func() (bool, error) {
		out := mustKubectl(t, nil, "get", "--raw", node+"/metrics/resource")
		labels := fmt.Sprintf(`{container="main",namespace="%s",pod="busy"}`, ns)
		for _, series := range []string{"container_cpu_usage_seconds_total" + labels, "container_memory_working_set_bytes" + labels,
			"container_start_time_seconds" + labels, "node_cpu_usage_seconds_total", "node_memory_working_set_bytes"} {
			if err := positiveSample(out, series); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// The kubelet's other endpoints through the API server: /metrics with
// the kubelet's own metrics, /metrics/cadvisor with the pods' real CPU,
// memory and network in cAdvisor's names, /metrics/probes with the
// probes' results, /configz with the node's configuration.
func TestKubeletMetricsEndpoints(t *testing.T) {
	ns := namespace(t)
	web := createPod(t, ns, virtualPod("web", corev1.Container{Name: "web", Image: env.Regs.Images.Hello,
		Ports: []corev1.ContainerPort{{ContainerPort: 80}}}))
	client := shell("main", "sleep 3600")
	client.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
		PeriodSeconds: 1}
	createPod(t, ns, virtualPod("client", client))
	web = waitPod(t, ns, web.Name, "Running", 2*time.Minute, running)
	waitPod(t, ns, "client", "Running", 2*time.Minute, running)
	// Traffic over the client's interface, both ways.
	mustKubectl(t, nil, "exec", "-n", ns, "client", "--", "wget", "-qO-", "http://"+web.Status.PodIP+"/")

	node := "/api/v1/nodes/" + localcluster.NodeName + "/proxy"
	out := mustKubectl(t, nil, "get", "--raw", node+"/metrics")
	for _, series := range []string{`kubelet_node_name{node="` + localcluster.NodeName + `"}`, "kubelet_running_pods",
		`kubelet_running_containers{container_state="running"}`, "vnode_pods" + `{phase="Running"}`} {
		if err := positiveSample(out, series); err != nil {
			t.Error(err)
		}
	}

	framework.WaitFor(t, "the client pod's cAdvisor metrics", time.Minute, func() (bool, error) {
		out := mustKubectl(t, nil, "get", "--raw", node+"/metrics/cadvisor")
		pod := []string{`namespace="` + ns + `"`, `pod="client"`}
		for _, s := range []struct {
			name   string
			labels []string
		}{
			{"container_cpu_usage_seconds_total", append([]string{`container="main"`, `cpu="total"`}, pod...)},
			{"container_memory_working_set_bytes", append([]string{`container="main"`}, pod...)},
			{"container_memory_usage_bytes", append([]string{`container="main"`}, pod...)},
			{"container_start_time_seconds", append([]string{`container="main"`}, pod...)},
			{"container_network_receive_bytes_total", append([]string{`interface="eth0"`}, pod...)},
			{"container_network_transmit_bytes_total", append([]string{`interface="eth0"`}, pod...)},
			{"machine_cpu_cores", nil},
		} {
			if err := positiveLabelledSample(out, s.name, s.labels...); err != nil {
				return false, err
			}
		}
		return true, nil
	})

	framework.WaitFor(t, "the client pod's probe results", time.Minute, func() (bool, error) {
		out := mustKubectl(t, nil, "get", "--raw", node+"/metrics/probes")
		err := positiveLabelledSample(out, "prober_probe_total", `namespace="`+ns+`"`, `pod="client"`,
			`container="main"`, `probe_type="Readiness"`, `result="successful"`)
		return err == nil, err
	})

	var configz struct {
		KubeletConfig struct {
			MaxPods       int32    `json:"maxPods"`
			ClusterDomain string   `json:"clusterDomain"`
			ClusterDNS    []string `json:"clusterDNS"`
		} `json:"kubeletconfig"`
	}
	if err := json.Unmarshal([]byte(mustKubectl(t, nil, "get", "--raw", node+"/configz")), &configz); err != nil {
		t.Fatal(err)
	}
	if c := configz.KubeletConfig; c.MaxPods <= 0 || c.ClusterDomain != "cluster.local" || len(c.ClusterDNS) != 1 {
		t.Errorf("configz: %+v", c)
	}
}

// positiveLabelledSample checks that the exposition has a sample of name
// whose labels include each of labels (as `key="value"`) with a value
// above 0.
func positiveLabelledSample(out, name string, labels ...string) error {
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		set, value := "", rest
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "} ")
			if end < 0 {
				continue
			}
			set, value = rest[:end+1], rest[end+2:]
		}
		matches := true
		for _, l := range labels {
			matches = matches && (strings.Contains(set, "{"+l+",") || strings.Contains(set, ","+l+",") ||
				strings.Contains(set, ","+l+"}") || set == "{"+l+"}")
		}
		if !matches {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("%s%s = %s, want a positive value", name, set, value)
		}
		return nil
	}
	return fmt.Errorf("no %s with %v in\n%s", name, labels, out)
}

// An image from the password-protected registry runs with an
// imagePullSecret and fails with ErrImagePull without one.
func TestPrivateRegistryImage(t *testing.T) {
	ns := namespace(t)
	mustKubectl(t, nil, "create", "secret", "docker-registry", "regcred", "-n", ns,
		"--docker-server="+env.Regs.Private, "--docker-username="+env.Regs.Username, "--docker-password="+env.Regs.Password)
	image := strings.Replace(env.Regs.Images.Hello, env.Regs.Open, env.Regs.Private, 1)
	with := virtualPod("with-secret", corev1.Container{Name: "web", Image: image})
	with.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	without := virtualPod("without-secret", corev1.Container{Name: "web", Image: image})
	createPod(t, ns, with)
	createPod(t, ns, without)
	waitPod(t, ns, "with-secret", "Running", 2*time.Minute, running)
	p := waitPod(t, ns, "without-secret", "failing to pull", 2*time.Minute, func(p *corev1.Pod) bool {
		for _, c := range p.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") {
				return true
			}
		}
		return false
	})
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, image) && !strings.Contains(strings.ToLower(msg), "pull") {
		t.Errorf("pull failure message %q names neither the image nor the pull", msg)
	}
	// The event is recorded beside the status write, not before it.
	var events string
	framework.WaitFor(t, "a Failed event for the pull", time.Minute, func() (bool, error) {
		events = mustKubectl(t, nil, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=without-secret")
		return strings.Contains(events, "Failed"), nil
	})
}

// A pod asking for more than the location offers fails at once, saying
// which limit it exceeds.
func TestPodExceedingCapabilities(t *testing.T) {
	ns := namespace(t)
	big := virtualPod("big", corev1.Container{Name: "main", Image: env.Regs.Images.Hello,
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")}}})
	createPod(t, ns, big)
	p := waitPod(t, ns, "big", "Failed", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if p.Status.Reason != "ProviderFailed" || !strings.Contains(p.Status.Message, "CPU") && !strings.Contains(p.Status.Message, "cpu") {
		t.Errorf("reason %q, message %q: want ProviderFailed naming the CPU limit", p.Status.Reason, p.Status.Message)
	}
}

// Anonymous and unauthorised calls to the kubelet API are refused.
func TestKubeletAPIRefusesStrangers(t *testing.T) {
	requireSuite(t)
	client := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // only the refusal is tested
	url := fmt.Sprintf("https://%s:%d/pods", env.Advertise, env.Ports.Kubelet)
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET /pods: %s, want 401", resp.Status)
	}

	ns := namespace(t)
	token := strings.TrimSpace(mustKubectl(t, nil, "create", "token", "default", "-n", ns))
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /pods as a service account without rights: %s, want 403", resp.Status)
	}
}

// Scaling the sample 0 → 50 → 0 leaves no container group in the service.
func TestScaleLeavesNoGroups(t *testing.T) {
	ns := namespace(t)
	mustKubectl(t, strings.NewReader(string(sampleManifest(t))), "apply", "-n", ns, "-f", "-")
	ctx := context.Background()
	if err := framework.Scale(ctx, env.Client, ns, "aci-helloworld", 50); err != nil {
		t.Fatal(err)
	}
	waitRunningPods(t, ns, 50, 8*time.Minute)
	if got := groupsOfNamespace(t, ns); len(got) != 50 {
		t.Errorf("%d container groups for 50 pods", len(got))
	}
	if err := framework.Scale(ctx, env.Client, ns, "aci-helloworld", 0); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "every pod gone", 5*time.Minute, func() (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(pods.Items) == 0, fmt.Errorf("%d pods left (%v)", len(pods.Items), err)
	})
	framework.WaitFor(t, "every container group gone", time.Minute, func() (bool, error) {
		left := groupsOfNamespace(t, ns)
		return len(left) == 0, fmt.Errorf("groups left: %v", left)
	})
}

// An image that is missing when the pod starts is pulled again with the
// kubelet's back-off: pushed later, the pod runs.
func TestImagePushedLater(t *testing.T) {
	ns := namespace(t)
	ref := env.Regs.Open + "/vnode/late-" + ns + ":1"
	createPod(t, ns, virtualPod("late", corev1.Container{Name: "web", Image: ref}))
	waitPod(t, ns, "late", "failing to pull", 2*time.Minute, func(p *corev1.Pod) bool {
		for _, c := range p.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") {
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img, err := (&images.Builder{}).Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.Push(ctx, img, ref, nil, true); err != nil {
		t.Fatal(err)
	}
	waitPod(t, ns, "late", "Running after the push", 2*time.Minute, running)
	events := mustKubectl(t, nil, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=late")
	if !strings.Contains(events, "BackOff") {
		t.Errorf("no BackOff event while the image was missing:\n%s", events)
	}
}

// positiveSample checks that the Prometheus text out has a sample of series
// (name and labels, exactly) with a positive value.
func positiveSample(out, series string) error {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)`).FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("no %s in\n%s", series, out)
	}
	if v, err := strconv.ParseFloat(m[1], 64); err != nil || v <= 0 {
		return fmt.Errorf("%s = %s, want a positive value", series, m[1])
	}
	return nil
}
