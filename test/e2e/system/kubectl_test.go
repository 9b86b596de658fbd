package system

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// kubectl get nodes shows the virtual node as AKS shows its own.
func TestVirtualNodeReady(t *testing.T) {
	requireSuite(t)
	framework.WaitFor(t, "the virtual node Ready", time.Minute, func() (bool, error) {
		out := mustKubectl(t, nil, "get", "nodes", "--no-headers")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == localcluster.NodeName && f[1] == "Ready" && f[2] == "agent" {
				return true, nil
			}
		}
		return false, fmt.Errorf("kubectl get nodes: %q", out)
	})
}

// The AKS sample Deployment runs with an IP in the virtual node's subnet
// and answers HTTP from another pod on the node.
func TestSampleDeployment(t *testing.T) {
	ns := namespace(t)
	mustKubectl(t, strings.NewReader(string(sampleManifest(t))), "apply", "-n", ns, "-f", "-")
	var pod corev1.Pod
	framework.WaitFor(t, "the sample's pod Running", 3*time.Minute, func() (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=aci-helloworld"})
		if err != nil || len(pods.Items) != 1 {
			return false, fmt.Errorf("pods: %v", err)
		}
		pod = pods.Items[0]
		return running(&pod), fmt.Errorf("phase %s %s", pod.Status.Phase, containerSummary(&pod))
	})
	if pod.Spec.NodeName != localcluster.NodeName {
		t.Errorf("the sample runs on %q", pod.Spec.NodeName)
	}
	_, docs, _ := net.ParseCIDR("10.241.0.0/16")
	ip := net.ParseIP(pod.Status.PodIP)
	if !env.Subnet.Contains(ip) || !docs.Contains(ip) {
		t.Errorf("pod IP %q is not in %s (a part of 10.241.0.0/16)", pod.Status.PodIP, env.Subnet)
	}
	if pod.Status.HostIP != env.Advertise {
		t.Errorf("hostIP %q, want the node's InternalIP %s", pod.Status.HostIP, env.Advertise)
	}

	client := createPod(t, ns, virtualPod("client", shell("client", "sleep 3600")))
	waitPod(t, ns, client.Name, "Running", 2*time.Minute, running)
	out := mustKubectl(t, nil, "exec", "-n", ns, "client", "--", "wget", "-qO-", "http://"+pod.Status.PodIP+"/")
	if !strings.Contains(out, "Hello from vnode") {
		t.Errorf("GET / of the sample from another pod: %q", out)
	}
	// And from the host, as in the docs' curl.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + pod.Status.PodIP + "/healthz")
	if err != nil {
		t.Fatalf("GET the sample from the host: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz from the host: %s", resp.Status)
	}
}

// kubectl logs with -f, --tail, --since, --timestamps and --previous.
func TestLogs(t *testing.T) {
	ns := namespace(t)
	crasher := virtualPod("crasher", shell("main", "echo one; echo two; echo three; exit 1"))
	createPod(t, ns, crasher)
	follower := virtualPod("follower", shell("main", "for i in 1 2 3; do echo line $i; sleep 1; done"))
	follower.Spec.RestartPolicy = corev1.RestartPolicyNever
	createPod(t, ns, follower)

	waitPod(t, ns, "follower", "started", 2*time.Minute, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && (p.Status.ContainerStatuses[0].State.Running != nil ||
			p.Status.ContainerStatuses[0].State.Terminated != nil)
	})
	// -f follows the container to its end, then kubectl exits.
	out := mustKubectl(t, nil, "logs", "-n", ns, "-f", "follower")
	if out != "line 1\nline 2\nline 3\n" {
		t.Errorf("kubectl logs -f: %q", out)
	}
	waitPod(t, ns, "follower", "Succeeded", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if out := mustKubectl(t, nil, "logs", "-n", ns, "--tail=1", "follower"); out != "line 3\n" {
		t.Errorf("kubectl logs --tail=1: %q", out)
	}
	out = mustKubectl(t, nil, "logs", "-n", ns, "--timestamps", "follower")
	stamped := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line \d$`)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if !stamped.MatchString(l) {
			t.Errorf("kubectl logs --timestamps line %q", l)
		}
	}
	if len(lines) != 3 {
		t.Errorf("kubectl logs --timestamps: %q", out)
	}
	if out := mustKubectl(t, nil, "logs", "-n", ns, "--since=1h", "follower"); out != "line 1\nline 2\nline 3\n" {
		t.Errorf("kubectl logs --since=1h: %q", out)
	}
	if out := mustKubectl(t, nil, "logs", "-n", ns, "--limit-bytes=6", "follower"); out != "line 1" {
		t.Errorf("kubectl logs --limit-bytes=6: %q", out)
	}

	waitPod(t, ns, "crasher", "restarted", 2*time.Minute, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if out := mustKubectl(t, nil, "logs", "-n", ns, "--previous", "crasher"); out != "one\ntwo\nthree\n" {
		t.Errorf("kubectl logs --previous after a crash: %q", out)
	}
	if out := mustKubectl(t, nil, "logs", "-n", ns, "--previous", "--tail=1", "crasher"); out != "three\n" {
		t.Errorf("kubectl logs --previous --tail=1: %q", out)
	}
	r := kubectl(t, nil, "logs", "-n", ns, "--previous", "follower")
	if r.code == 0 || !strings.Contains(r.stderr, "previous") {
		t.Errorf("kubectl logs --previous of a container never restarted: %s", r)
	}
	r = kubectl(t, nil, "logs", "-n", ns, "follower", "-c", "nope")
	if r.code == 0 || !strings.Contains(r.stderr, "nope") {
		t.Errorf("kubectl logs of a missing container: %s", r)
	}
}

// A container's last output without a newline is in its log, as on a
// kubelet: in kubectl logs, -f, --tail and --previous.
func TestLogsWithoutTrailingNewline(t *testing.T) {
	ns := namespace(t)
	unended := virtualPod("unended", shell("main", "echo first; sleep 2; printf 'partial'; sleep 1; echo ' done'; printf no-newline-at-end"))
	unended.Spec.RestartPolicy = corev1.RestartPolicyNever
	createPod(t, ns, unended)
	createPod(t, ns, virtualPod("crasher", shell("main", "echo one; printf two-unended; exit 1")))

	waitPod(t, ns, "unended", "started", 2*time.Minute, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && (p.Status.ContainerStatuses[0].State.Running != nil ||
			p.Status.ContainerStatuses[0].State.Terminated != nil)
	})
	const whole = "first\npartial done\nno-newline-at-end"
	if out := mustKubectl(t, nil, "logs", "-n", ns, "-f", "unended"); out != whole {
		t.Errorf("kubectl logs -f: %q, want %q", out, whole)
	}
	waitPod(t, ns, "unended", "Succeeded", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if out := mustKubectl(t, nil, "logs", "-n", ns, "unended"); out != whole {
		t.Errorf("kubectl logs: %q, want %q", out, whole)
	}
	if out := mustKubectl(t, nil, "logs", "-n", ns, "--tail=1", "unended"); out != "no-newline-at-end" {
		t.Errorf("kubectl logs --tail=1: %q", out)
	}
	waitPod(t, ns, "crasher", "restarted", 2*time.Minute, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if out := mustKubectl(t, nil, "logs", "-n", ns, "--previous", "crasher"); out != "one\ntwo-unended" {
		t.Errorf("kubectl logs --previous: %q", out)
	}
}

// kubectl exec with arguments, stdin, separate stderr and exit codes;
// kubectl cp both ways.
func TestExecAndCp(t *testing.T) {
	ns := namespace(t)
	createPod(t, ns, virtualPod("shell", shell("main", "sleep 3600")))
	waitPod(t, ns, "shell", "Running", 2*time.Minute, running)

	if out := mustKubectl(t, nil, "exec", "-n", ns, "shell", "--", "sh", "-c", `echo "[$1] [$2]"`, "x", "a  b", "c"); out != "[a  b] [c]\n" {
		t.Errorf("exec with arguments: %q", out)
	}
	if out := mustKubectl(t, strings.NewReader("from stdin\n"), "exec", "-i", "-n", ns, "shell", "--", "cat"); out != "from stdin\n" {
		t.Errorf("exec -i cat: %q", out)
	}
	r := kubectl(t, nil, "exec", "-n", ns, "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || !strings.Contains(r.stderr, "err\n") {
		t.Errorf("exec exiting 3: %s", r)
	}
	r = kubectl(t, nil, "exec", "-n", ns, "shell", "--", "no-such-command")
	if r.code == 0 {
		t.Errorf("exec of a missing command: %s", r)
	}

	dir := t.TempDir()
	local := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(local, []byte("copied both ways\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, nil, "cp", "-n", ns, local, "shell:/tmp/in.txt")
	if out := mustKubectl(t, nil, "exec", "-n", ns, "shell", "--", "cat", "/tmp/in.txt"); out != "copied both ways\n" {
		t.Errorf("file copied in: %q", out)
	}
	mustKubectl(t, nil, "exec", "-n", ns, "shell", "--", "sh", "-c", "echo made inside > /tmp/out.txt")
	mustKubectl(t, nil, "cp", "-n", ns, "shell:/tmp/out.txt", filepath.Join(dir, "out.txt"))
	if data, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(data) != "made inside\n" {
		t.Errorf("file copied out: %q, %v", data, err)
	}
}

// kubectl attach shows what the container writes; kubectl port-forward
// reaches its port.
func TestAttachAndPortForward(t *testing.T) {
	ns := namespace(t)
	ticker := virtualPod("ticker", shell("main", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done"))
	web := virtualPod("web", corev1.Container{Name: "web", Image: env.Regs.Images.Hello,
		Ports: []corev1.ContainerPort{{ContainerPort: 80}}})
	createPod(t, ns, ticker)
	createPod(t, ns, web)
	waitPod(t, ns, "ticker", "Running", 2*time.Minute, running)
	waitPod(t, ns, "web", "Running", 2*time.Minute, running)

	line := firstLineMatching(t, regexp.MustCompile(`^tick \d+$`), "attach", "-n", ns, "ticker")
	if line == "" {
		t.Error("kubectl attach showed no tick")
	}

	forwarding := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 80$`)
	sc, stop := startKubectl(t, "port-forward", "-n", ns, "pod/web", ":80")
	defer stop()
	port := ""
	for sc.Scan() {
		if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
			port = m[1]
			break
		}
	}
	if port == "" {
		t.Fatal("kubectl port-forward printed no local port")
	}
	go func() {
		for sc.Scan() { // keep kubectl's output flowing
		}
	}()
	for i := range 2 { // two connections over one forward
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://127.0.0.1:" + port + "/")
		if err != nil {
			t.Fatalf("GET through port-forward (%d): %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "Hello from vnode") {
			t.Errorf("GET through port-forward: %s %q", resp.Status, body)
		}
	}
}

// firstLineMatching runs kubectl until a line of its output matches re,
// then stops it, and returns the line ("" if it ended first).
func firstLineMatching(t *testing.T, re *regexp.Regexp, args ...string) string {
	t.Helper()
	sc, stop := startKubectl(t, args...)
	defer stop()
	for sc.Scan() {
		if re.MatchString(sc.Text()) {
			return sc.Text()
		}
	}
	return ""
}

// startKubectl starts a long-running kubectl (a minute at most) and returns
// a scanner of its output lines and a func that stops it.
func startKubectl(t *testing.T, args ...string) (*bufio.Scanner, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, env.binaries.Path(k8sbin.Kubectl), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	return bufio.NewScanner(stdout), func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		cancel()
	}
}

// A terminal session reaches the container with its size, as kubectl exec
// -it opens one (WebSocket to the API server, SPDY to the node).
func TestExecTerminalSize(t *testing.T) {
	ns := namespace(t)
	createPod(t, ns, virtualPod("tty", shell("main", "sleep 3600")))
	waitPod(t, ns, "tty", "Running", 2*time.Minute, running)
	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	req := env.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name("tty").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "main", Command: []string{"sh", "-c", waitForTerminalSize},
			Stdin: true, Stdout: true, TTY: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewWebSocketExecutor(restConfig, http.MethodGet, req.URL().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	stdin, stdinW := io.Pipe()
	defer stdinW.Close()
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: &out, Tty: true,
		TerminalSizeQueue: &oneSize{size: &remotecommand.TerminalSize{Width: 123, Height: 45}}})
	if err != nil {
		t.Fatalf("exec stty size in a terminal: %v (output %q)", err, out.String())
	}
	if got := strings.TrimSpace(out.String()); got != "45 123" {
		t.Errorf("stty size = %q, want \"45 123\"", got)
	}
}

// waitForTerminalSize prints the terminal's size once it is 45x123, or
// what it is after 3 s: CRI starts an exec's process before the client's
// first size reaches its terminal, on a kubelet as here.
const waitForTerminalSize = `i=0; until [ "$(stty size 2>/dev/null)" = "45 123" ] || [ $i -ge 30 ]; do i=$((i+1)); sleep 0.1; done; stty size`

// oneSize is a terminal that reports one size, then none.
type oneSize struct{ size *remotecommand.TerminalSize }

func (q *oneSize) Next() *remotecommand.TerminalSize {
	s := q.size
	q.size = nil
	if s == nil {
		select {} // no further resizes; the stream ends with the command
	}
	return s
}
