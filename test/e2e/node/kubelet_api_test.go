package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	utilexec "k8s.io/utils/exec"
	"k8s.io/utils/ptr"

	nodectl "github.com/vnode-io/vnode/internal/node"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// Logs through the API server: tail, timestamps, and a followed log
// that ends when the container exits.
func TestKubeletAPILogs(t *testing.T) {
	approveServingCSR(t)
	ctx := context.Background()
	ns := newNamespace(t)
	pod := runningPodOnNode(t, ns, "logs")
	logs := func(opts *corev1.PodLogOptions) string {
		t.Helper()
		out, err := env.client.CoreV1().Pods(ns).GetLogs(pod.Name, opts).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs %+v: %v", opts, err)
		}
		return string(out)
	}
	if got := logs(&corev1.PodLogOptions{Container: "app"}); got != "starting container app (image localhost:5000/hello:latest)\nrun 1 of pod "+ns+"/logs\nready\n" {
		t.Errorf("logs = %q", got)
	}
	if got := logs(&corev1.PodLogOptions{TailLines: ptr.To[int64](1)}); got != "ready\n" {
		t.Errorf("tail 1 = %q", got)
	}
	stamped := logs(&corev1.PodLogOptions{TailLines: ptr.To[int64](1), Timestamps: true})
	stamp, rest, _ := strings.Cut(stamped, " ")
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || rest != "ready\n" {
		t.Errorf("timestamped = %q (%v)", stamped, err)
	}
	if _, err := env.client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "nope"}).DoRaw(ctx); err == nil {
		t.Error("logs of an unknown container")
	}

	followCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stream, err := env.client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Follow: true}).Stream(followCtx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	lines := bufio.NewScanner(stream)
	for range 3 {
		if !lines.Scan() {
			t.Fatalf("followed log ended early: %v", lines.Err())
		}
	}
	if err := env.backend.ExitContainer(pod.UID, "app", 0); err != nil {
		t.Fatal(err)
	}
	var tail []string
	for lines.Scan() {
		tail = append(tail, lines.Text())
	}
	if lines.Err() != nil || len(tail) != 1 || tail[0] != "exited with code 0" {
		t.Errorf("followed log went on with %q (%v); want it to end after the exit", tail, lines.Err())
	}
}

// Exec through the API server, over SPDY and over WebSocket (which the
// API server turns into SPDY to the node): argv, stdin, and exit codes.
func TestKubeletAPIExec(t *testing.T) {
	approveServingCSR(t)
	ns := newNamespace(t)
	pod := runningPodOnNode(t, ns, "exec")
	tests := []struct {
		cmd    []string
		stdin  string
		stdout string
		suffix bool
		code   int
	}{
		{cmd: []string{"echo", "hello", "from exec"}, stdout: "hello from exec\n"},
		{cmd: []string{"env"}, stdout: "GREETING=hello\n", suffix: true}, // after the service links
		{cmd: []string{"cat"}, stdin: "round trip\n", stdout: "round trip\n"},
		{cmd: []string{"sh", "-c", "echo before; exit 3"}, stdout: "before\n", code: 3},
		{cmd: []string{"no-such-command"}, code: 127},
	}
	for _, transport := range []string{"spdy", "websocket"} {
		for _, tt := range tests {
			t.Run(transport+" "+strings.Join(tt.cmd, " "), func(t *testing.T) {
				stdout, code := execInPod(t, transport, ns, pod.Name, tt.cmd, tt.stdin)
				if code != tt.code || (stdout != tt.stdout && !(tt.suffix && strings.HasSuffix(stdout, tt.stdout))) {
					t.Errorf("exit %d, stdout %q; want %d, %q", code, stdout, tt.code, tt.stdout)
				}
			})
		}
	}
}

// execInPod runs cmd in the pod's container through the pods/exec
// subresource and returns its stdout and exit code.
func execInPod(t *testing.T, transport, ns, pod string, cmd []string, stdin string) (string, int) {
	t.Helper()
	req := env.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "app", Command: cmd, Stdin: stdin != "", Stdout: true, Stderr: true}, scheme.ParameterCodec)
	var exec remotecommand.Executor
	var err error
	if transport == "spdy" {
		exec, err = remotecommand.NewSPDYExecutor(env.rest, http.MethodPost, req.URL())
	} else {
		exec, err = remotecommand.NewWebSocketExecutor(env.rest, http.MethodGet, req.URL().String())
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	opts := remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}
	if stdin != "" {
		opts.Stdin = strings.NewReader(stdin)
	}
	err = exec.StreamWithContext(ctx, opts)
	var exitErr utilexec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return stdout.String(), exitErr.ExitStatus()
	case err != nil:
		t.Fatalf("exec %v: %v (stderr %q)", cmd, err, stderr.String())
	}
	return stdout.String(), 0
}

// Port-forward through the API server reaches the workload's port, an
// echo server in the memory backend.
func TestKubeletAPIPortForward(t *testing.T) {
	approveServingCSR(t)
	ns := newNamespace(t)
	pod := runningPodOnNode(t, ns, "forward")
	req := env.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod.Name).SubResource("portforward")
	roundTripper, upgrader, err := spdy.RoundTripperFor(env.rest)
	if err != nil {
		t.Fatal(err)
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: roundTripper}, http.MethodPost, req.URL())
	stop, ready := make(chan struct{}), make(chan struct{})
	var out, errOut bytes.Buffer
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	defer func() { close(stop); <-done }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("port-forward: %v (%s)", err, errOut.String())
	case <-time.After(time.Minute):
		t.Fatal("port-forward not ready after a minute")
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Fatalf("ports %v, %v", ports, err)
	}
	for i := range 2 { // two connections over one forwarding session
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		msg := fmt.Sprintf("ping %d\n", i)
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
			t.Errorf("echo %q, %v; want %q", got, err, msg)
		}
		conn.Close()
	}
}

// The node proxy: /pods, /stats/summary and /metrics/resource with the
// pod's usage, as metrics-server and `kubectl get --raw` see them.
func TestKubeletAPINodeProxy(t *testing.T) {
	approveServingCSR(t)
	ctx := context.Background()
	ns := newNamespace(t)
	pod := runningPodOnNode(t, ns, "stats")
	proxy := func(path string) []byte {
		t.Helper()
		out, err := env.client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", nodectl.DefaultNodeName, "proxy", path).DoRaw(ctx)
		if err != nil {
			t.Fatalf("GET proxy/%s: %v (%s)", path, err, out)
		}
		return out
	}

	var pods corev1.PodList
	if err := json.Unmarshal(proxy("pods"), &pods); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pods.Items {
		found = found || (p.Namespace == ns && p.Name == pod.Name && p.UID == pod.UID)
	}
	if !found {
		t.Errorf("/pods lacks %s/%s among %d pods", ns, pod.Name, len(pods.Items))
	}

	var summary statsv1alpha1.Summary
	if err := json.Unmarshal(proxy("stats/summary"), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Node.NodeName != nodectl.DefaultNodeName || summary.Node.CPU == nil || *summary.Node.CPU.UsageNanoCores == 0 || *summary.Node.Memory.WorkingSetBytes == 0 {
		t.Errorf("node stats %+v", summary.Node)
	}
	var podStats *statsv1alpha1.PodStats
	for i := range summary.Pods {
		if summary.Pods[i].PodRef.Namespace == ns && summary.Pods[i].PodRef.Name == pod.Name {
			podStats = &summary.Pods[i]
		}
	}
	if podStats == nil || len(podStats.Containers) != 1 || *podStats.Containers[0].CPU.UsageCoreNanoSeconds == 0 || *podStats.Containers[0].Memory.WorkingSetBytes == 0 {
		t.Errorf("pod stats %+v", podStats)
	}

	metrics := string(proxy("metrics/resource"))
	for _, name := range []string{"node_cpu_usage_seconds_total", "node_memory_working_set_bytes", "scrape_error"} {
		if !strings.Contains(metrics, "\n"+name+" ") {
			t.Errorf("/metrics/resource lacks %s", name)
		}
	}
	labels := fmt.Sprintf(`{container="app",namespace="%s",pod="%s"}`, ns, pod.Name)
	for _, name := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_start_time_seconds"} {
		if !hasPositiveSample(metrics, name+labels) {
			t.Errorf("/metrics/resource lacks a positive %s%s", name, labels)
		}
	}
}

// hasPositiveSample reports whether the exposition has series with a
// value above 0.
func hasPositiveSample(exposition, series string) bool {
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			_, err := fmt.Sscan(strings.Fields(rest)[0], &v)
			return err == nil && v > 0
		}
	}
	return false
}

// The kubelet API itself refuses anonymous callers (401) and callers the
// cluster does not allow on the node (403), whatever the route.
func TestKubeletAPIRefusesAnonymousAndUnprivileged(t *testing.T) {
	client := approveServingCSR(t)
	ctx := context.Background()
	ns := newNamespace(t)
	sa, err := env.client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var token *authenticationv1.TokenRequest
	// The service account admission may not have seen the new account yet.
	framework.WaitFor(t, "a token for the service account", time.Minute, func() (bool, error) {
		token, err = env.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		return err == nil, err
	})
	call := func(path, bearer string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+env.agent.endpoints.Kubelet+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/pods", "/stats/summary", "/metrics/resource", "/containerLogs/" + ns + "/x/app"} {
		if code, body := call(path, ""); code != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s = %d %q; want 401", path, code, body)
		}
		code, body := call(path, token.Status.Token)
		want := "Forbidden (user=system:serviceaccount:" + ns + ":nobody, verb=get, resource=nodes"
		if code != http.StatusForbidden || !strings.Contains(body, want) {
			t.Errorf("GET %s as the service account = %d %q; want 403 %q", path, code, body, want)
		}
	}
	if code, body := call("/healthz", ""); code != http.StatusOK || body != "ok" {
		t.Errorf("anonymous /healthz = %d %q", code, body)
	}
}
