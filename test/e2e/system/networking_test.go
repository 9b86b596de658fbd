package system

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// The addresses `vnode up` gives the kubernetes and kube-dns Services in
// its default Service range.
const (
	apiServiceIP = "10.0.0.1"
	dnsServiceIP = "10.0.0.10"
)

// serviceAccountDir is where the kube-api-access volume is mounted.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// execIn runs cmd in the pod's first container and fails the test unless
// it exits 0.
func execIn(t *testing.T, ns, pod string, cmd ...string) string {
	t.Helper()
	return mustKubectl(t, nil, append([]string{"exec", "-n", ns, pod, "--"}, cmd...)...)
}

// sleeper is a shell pod that waits to be exec'd into.
func sleeper(name string) *corev1.Pod {
	return virtualPod(name, shell("sh", "trap 'exit 0' TERM; while true; do sleep 1; done"))
}

// webDeployment runs n hello pods labelled app=<name>, ready once they
// answer HTTP.
func webDeployment(name string, n int32) *appsv1.Deployment {
	pod := virtualPod(name, corev1.Container{Name: "web", Image: env.Regs.Images.Hello,
		Ports: []corev1.ContainerPort{{ContainerPort: 80}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(80)}},
			PeriodSeconds: 1}})
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(n), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod.Spec}}}
}

func createObject[T any](t *testing.T, create func(context.Context, T, metav1.CreateOptions) (T, error), obj T) T {
	t.Helper()
	out, err := create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %T: %v", obj, err)
	}
	return out
}

func podsWithLabel(t *testing.T, ns, selector string) []corev1.Pod {
	t.Helper()
	list, err := env.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// hostRe finds the host name in the hello page.
var hostRe = regexp.MustCompile(`<code>([^<]+)</code>`)

// Three web pods behind a ClusterIP Service: a client pod reaches the
// Service by name through cluster DNS and gets answers from all three and
// never from a pod that is not ready; the host reaches the Service IP; a
// headless Service resolves to the pods' IPs; the group's resolv.conf is
// ClusterFirst's; the API server's Service name resolves.
func TestServicesAndClusterDNS(t *testing.T) {
	ns := namespace(t)
	createObject(t, env.Client.AppsV1().Deployments(ns).Create, webDeployment("web", 3))
	unready := virtualPod("web-unready", corev1.Container{Name: "web", Image: env.Regs.Images.Hello,
		Ports: []corev1.ContainerPort{{ContainerPort: 80}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/false"}}},
			PeriodSeconds: 1}})
	unready.Labels = map[string]string{"app": "web"}
	createPod(t, ns, unready)
	svc := createObject(t, env.Client.CoreV1().Services(ns).Create, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}}})
	createObject(t, env.Client.CoreV1().Services(ns).Create, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-headless"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80}}}})
	createPod(t, ns, sleeper("client"))
	waitRunningPods(t, ns, 4, 3*time.Minute) // three web pods and the client
	waitPod(t, ns, "web-unready", "Running", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	resolv := execIn(t, ns, "client", "cat", "/etc/resolv.conf")
	for _, want := range []string{"nameserver " + dnsServiceIP, "search " + ns + ".svc.cluster.local svc.cluster.local cluster.local", "options ndots:5"} {
		if !strings.Contains(resolv, want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, resolv)
		}
	}
	// busybox's nslookup ignores the search path: the full name here;
	// TestInClusterAPIAccess reaches kubernetes.default.svc through it.
	framework.WaitFor(t, "kubernetes.default.svc.cluster.local resolving to "+apiServiceIP, time.Minute, func() (bool, error) {
		r := kubectl(t, nil, "exec", "-n", ns, "client", "--", "nslookup", "kubernetes.default.svc.cluster.local")
		return r.code == 0 && strings.Contains(r.stdout, apiServiceIP), fmt.Errorf("%s", r)
	})

	var names []string
	for _, p := range podsWithLabel(t, ns, "app=web") {
		if p.Name != "web-unready" {
			names = append(names, p.Name)
		}
	}
	seen := map[string]int{}
	framework.WaitFor(t, "answers from every ready web pod through the Service", 2*time.Minute, func() (bool, error) {
		// A request that fails on a busy machine is simply not counted.
		r := kubectl(t, nil, "exec", "-n", ns, "client", "--", "sh", "-c", "for i in $(seq 1 30); do wget -qO- http://web/; done")
		for _, m := range hostRe.FindAllStringSubmatch(r.stdout, -1) {
			seen[m[1]]++
		}
		for _, n := range names {
			if seen[n] == 0 {
				return false, fmt.Errorf("answers so far %v, want each of %v", seen, names)
			}
		}
		return true, nil
	})
	if seen["web-unready"] > 0 {
		t.Errorf("a pod that is not ready answered through the Service: %v", seen)
	}

	// With ClientIP session affinity every request of the client goes to
	// one pod.
	createObject(t, env.Client.CoreV1().Services(ns).Create, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "sticky"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, SessionAffinity: corev1.ServiceAffinityClientIP,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}}})
	framework.WaitFor(t, "answers through the sticky Service", time.Minute, func() (bool, error) {
		r := kubectl(t, nil, "exec", "-n", ns, "client", "--", "wget", "-qO-", "http://sticky/")
		return r.code == 0, fmt.Errorf("%s", r)
	})
	sticky := map[string]int{}
	r := kubectl(t, nil, "exec", "-n", ns, "client", "--", "sh", "-c", "for i in $(seq 1 20); do wget -qO- http://sticky/; done")
	answers := 0
	for _, m := range hostRe.FindAllStringSubmatch(r.stdout, -1) {
		sticky[m[1]]++
		answers++
	}
	if len(sticky) != 1 || answers < 10 {
		t.Errorf("with ClientIP affinity %d answers came from %v, want at least 10 from one pod (%s)", answers, sticky, r)
	}

	// The host reaches the Service IP too (kube-proxy's rules on the host).
	body := httpGet(t, "http://"+svc.Spec.ClusterIP+"/")
	if m := hostRe.FindStringSubmatch(body); m == nil || !slices.Contains(names, m[1]) {
		t.Errorf("the host got %q from the Service IP", body)
	}

	// The headless Service resolves to the ready pods' addresses.
	pods := podsWithLabel(t, ns, "app=web")
	framework.WaitFor(t, "the headless Service's addresses", time.Minute, func() (bool, error) {
		r := kubectl(t, nil, "exec", "-n", ns, "client", "--", "nslookup", "web-headless."+ns+".svc.cluster.local")
		for _, p := range pods {
			if has := strings.Contains(r.stdout, p.Status.PodIP); has != (p.Name != "web-unready") {
				return false, fmt.Errorf("pod %s (%s) listed=%v: %s", p.Name, p.Status.PodIP, has, r)
			}
		}
		return true, nil
	})
}

// httpGet fetches url from the test process, retrying until a deadline.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	var body string
	client := &http.Client{Timeout: 5 * time.Second}
	framework.WaitFor(t, "GET "+url, time.Minute, func() (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		body = string(data)
		return err == nil && resp.StatusCode == http.StatusOK, fmt.Errorf("status %d, %v", resp.StatusCode, err)
	})
	return body
}

// A UDP Service whose endpoints are virtual-node pods: a DNS server (the
// CoreDNS image with a static hosts zone) on port 5353 behind port 53/UDP.
func TestUDPService(t *testing.T) {
	ns := namespace(t)
	createObject(t, env.Client.CoreV1().ConfigMaps(ns).Create, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "zone"},
		Data: map[string]string{"Corefile": ".:5353 {\n    hosts {\n        10.9.8.7 udp.test\n    }\n}\n"}})
	dns := virtualPod("udp-dns", corev1.Container{Name: "dns", Image: env.Regs.Images.CoreDNS,
		Command:      []string{"/coredns", "-conf", "/etc/coredns/Corefile"},
		Ports:        []corev1.ContainerPort{{ContainerPort: 5353, Protocol: corev1.ProtocolUDP}},
		VolumeMounts: []corev1.VolumeMount{{Name: "zone", MountPath: "/etc/coredns"}}})
	dns.Spec.Volumes = []corev1.Volume{{Name: "zone", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "zone"}}}}}
	createPod(t, ns, dns)
	svc := createObject(t, env.Client.CoreV1().Services(ns).Create, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "udp-dns"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "udp-dns"}, Ports: []corev1.ServicePort{
			{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)}}}})
	createPod(t, ns, sleeper("client"))
	waitRunningPods(t, ns, 2, 2*time.Minute)
	framework.WaitFor(t, "an answer from the UDP Service", time.Minute, func() (bool, error) {
		r := kubectl(t, nil, "exec", "-n", ns, "client", "--", "nslookup", "udp.test", svc.Spec.ClusterIP)
		return r.code == 0 && strings.Contains(r.stdout, "10.9.8.7"), fmt.Errorf("%s", r)
	})
}

// A pod's hostname, subdomain FQDN, host aliases, and status.podIP and
// status.hostIP variables are set as the kubelet sets them (the host's IP
// is the node's, known before the pod's first status).
func TestHostnameAliasesAndPodIP(t *testing.T) {
	ns := namespace(t)
	pod := virtualPod("named", corev1.Container{Name: "web", Image: env.Regs.Images.Hello,
		Ports: []corev1.ContainerPort{{ContainerPort: 80}},
		Env: []corev1.EnvVar{
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "POD_IPS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIPs"}}},
			{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
		}})
	pod.Spec.Hostname, pod.Spec.Subdomain = "db-0", "db"
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"foo.local"}},
		{IP: "10.1.2.3", Hostnames: []string{"bar.local", "bar"}}}
	createPod(t, ns, pod)
	createObject(t, env.Client.CoreV1().Services(ns).Create, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "named"},
			Ports: []corev1.ServicePort{{Port: 80}}}})
	createPod(t, ns, sleeper("client"))
	waitRunningPods(t, ns, 2, 2*time.Minute)
	p, err := env.Client.CoreV1().Pods(ns).Get(context.Background(), "named", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip := p.Status.PodIP

	if got := strings.TrimSpace(execIn(t, ns, "named", "hostname")); got != "db-0" {
		t.Errorf("hostname = %q, want db-0", got)
	}
	if got := strings.TrimSpace(execIn(t, ns, "named", "sh", "-c", "echo $POD_IP")); got != ip {
		t.Errorf("POD_IP = %q, pod IP %q", got, ip)
	}
	if got := strings.TrimSpace(execIn(t, ns, "named", "sh", "-c", "echo $POD_IPS")); got != ip {
		t.Errorf("POD_IPS = %q, pod IP %q", got, ip)
	}
	if got := strings.TrimSpace(execIn(t, ns, "named", "sh", "-c", "echo $HOST_IP")); got == "" || got != p.Status.HostIP {
		t.Errorf("HOST_IP = %q, the pod's hostIP %q", got, p.Status.HostIP)
	}
	hosts := execIn(t, ns, "named", "cat", "/etc/hosts")
	for _, want := range []string{ip + "\tdb-0.db." + ns + ".svc.cluster.local\tdb-0", "127.0.0.1\tfoo.local", "10.1.2.3\tbar.local\tbar"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("/etc/hosts lacks %q:\n%s", want, hosts)
		}
	}
	// The alias resolves: foo.local is the pod itself.
	if out := execIn(t, ns, "named", "wget", "-qO-", "http://foo.local/"); !strings.Contains(out, "<code>db-0</code>") {
		t.Errorf("http://foo.local/ gave %q", out)
	}
	// Other pods find it by its subdomain FQDN through cluster DNS.
	framework.WaitFor(t, "the pod's FQDN in cluster DNS", time.Minute, func() (bool, error) {
		r := kubectl(t, nil, "exec", "-n", ns, "client", "--", "nslookup", "db-0.db."+ns+".svc.cluster.local")
		return r.code == 0 && strings.Contains(r.stdout, ip), fmt.Errorf("%s", r)
	})
}

var (
	kubectlImageOnce sync.Once
	kubectlImageRef  string
	kubectlImageErr  error
)

// kubectlImage is the shell image with kubectl in /usr/local/bin: the
// kubectl of the control plane, a client-go program that uses the
// in-cluster configuration when it runs in a pod.
func kubectlImage(t *testing.T) string {
	t.Helper()
	kubectlImageOnce.Do(func() {
		kubectlImageRef, kubectlImageErr = buildKubectlImage(env.binaries.Path(k8sbin.Kubectl))
	})
	if kubectlImageErr != nil {
		t.Fatal(kubectlImageErr)
	}
	return kubectlImageRef
}

func buildKubectlImage(kubectlPath string) (string, error) {
	data, err := os.ReadFile(kubectlPath)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return "", err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "usr/local/bin/kubectl", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}); err != nil {
		return "", err
	}
	if _, err := tw.Write(data); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return "", err
	}
	base, err := name.ParseReference(env.Regs.Images.Shell, name.Insecure)
	if err != nil {
		return "", err
	}
	shellImage, err := remote.Image(base)
	if err != nil {
		return "", fmt.Errorf("read the shell image: %w", err)
	}
	img, err := mutate.AppendLayers(shellImage, layer)
	if err != nil {
		return "", err
	}
	ref := env.Regs.Open + "/vnode-e2e/kubectl:1"
	return ref, images.Push(context.Background(), img, ref, authn.Anonymous, true)
}

// A pod calls the API server with its service-account token through the
// kubernetes Service: allowed when RBAC allows, 403 when not; by name
// with the cluster CA, too.
func TestInClusterAPIAccess(t *testing.T) {
	ns := namespace(t)
	image := kubectlImage(t)
	ctx := context.Background()
	createObject(t, env.Client.CoreV1().ServiceAccounts(ns).Create, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}})
	createObject(t, env.Client.RbacV1().Roles(ns).Create, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}})
	createObject(t, env.Client.RbacV1().RoleBindings(ns).Create, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ns}}})
	allowed := sleeper("allowed")
	allowed.Spec.Containers[0].Image = image
	allowed.Spec.ServiceAccountName = "reader"
	denied := sleeper("denied")
	denied.Spec.Containers[0].Image = image
	createPod(t, ns, allowed)
	createPod(t, ns, denied)
	waitRunningPods(t, ns, 2, 2*time.Minute)

	for _, f := range []string{"token", "ca.crt", "namespace"} {
		if r := kubectl(t, nil, "exec", "-n", ns, "allowed", "--", "test", "-s", serviceAccountDir+"/"+f); r.code != 0 {
			t.Errorf("%s/%s is missing or empty: %s", serviceAccountDir, f, r)
		}
	}
	if got := execIn(t, ns, "allowed", "cat", serviceAccountDir+"/namespace"); got != ns {
		t.Errorf("namespace file = %q", got)
	}
	// kubectl in a pod uses client-go's in-cluster configuration:
	// KUBERNETES_SERVICE_HOST (10.0.0.1), the token and the CA.
	out := execIn(t, ns, "allowed", "kubectl", "get", "pods", "-o", "name")
	if !strings.Contains(out, "pod/allowed") || !strings.Contains(out, "pod/denied") {
		t.Errorf("kubectl get pods in the pod: %q", out)
	}
	r := kubectl(t, nil, "exec", "-n", ns, "denied", "--", "kubectl", "get", "pods")
	if r.code == 0 || !strings.Contains(r.stderr, "Forbidden") || !strings.Contains(r.stderr, "system:serviceaccount:"+ns+":default") {
		t.Errorf("the default account listed pods or failed otherwise: %s", r)
	}
	// By name, verifying the API server against the cluster CA.
	out = execIn(t, ns, "allowed", "sh", "-c", "kubectl --server=https://kubernetes.default.svc --certificate-authority="+serviceAccountDir+
		"/ca.crt --token=\"$(cat "+serviceAccountDir+"/token)\" get pod allowed -o name")
	if strings.TrimSpace(out) != "pod/allowed" {
		t.Errorf("by name: %q", out)
	}

	// The token is bound to the pod.
	token := execIn(t, ns, "allowed", "cat", serviceAccountDir+"/token")
	review, err := env.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:"+ns+":reader" ||
		!slices.Equal(review.Status.User.Extra["authentication.kubernetes.io/pod-name"], authenticationv1.ExtraValue{"allowed"}) {
		t.Errorf("token review: %+v", review.Status)
	}
}

// A running pod's token is replaced before it is due, and ConfigMap and
// Secret volumes follow their objects, while the container keeps running.
func TestTokenRotationAndVolumeUpdates(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	cm := createObject(t, env.Client.CoreV1().ConfigMaps(ns).Create, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data: map[string]string{"greeting": "hello"}})
	secret := createObject(t, env.Client.CoreV1().Secrets(ns).Create, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data: map[string][]byte{"password": []byte("one")}})
	pod := sleeper("app")
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}, {Name: "creds", MountPath: "/etc/creds"}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}}}
	createPod(t, ns, pod)
	started := waitPod(t, ns, "app", "Running", 2*time.Minute, running).Status.ContainerStatuses[0].State.Running.StartedAt

	first := execIn(t, ns, "app", "cat", serviceAccountDir+"/token")
	if got := execIn(t, ns, "app", "cat", "/etc/cfg/greeting"); got != "hello" {
		t.Fatalf("greeting = %q", got)
	}
	cm.Data["greeting"] = "bye"
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the new ConfigMap content in the running container", time.Minute, func() (bool, error) {
		got := execIn(t, ns, "app", "cat", "/etc/cfg/greeting")
		return got == "bye", fmt.Errorf("greeting %q", got)
	})
	secret.Data = map[string][]byte{"password": []byte("two"), "user": []byte("admin")}
	if _, err := env.Client.CoreV1().Secrets(ns).Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the new Secret content in the running container", time.Minute, func() (bool, error) {
		got := execIn(t, ns, "app", "sh", "-c", "cat /etc/creds/password; echo; cat /etc/creds/user")
		return got == "two\nadmin", fmt.Errorf("secret files %q", got)
	})
	// The suite's stack replaces tokens once 20 seconds old.
	var second string
	framework.WaitFor(t, "a new token in the running container", 2*time.Minute, func() (bool, error) {
		second = execIn(t, ns, "app", "cat", serviceAccountDir+"/token")
		return second != first, fmt.Errorf("still the first token")
	})
	review, err := env.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: second}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:"+ns+":default" {
		t.Errorf("the new token: %+v", review.Status)
	}
	p, err := env.Client.CoreV1().Pods(ns).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs := p.Status.ContainerStatuses[0]
	if cs.RestartCount != 0 || cs.State.Running == nil || !cs.State.Running.StartedAt.Equal(&started) {
		t.Errorf("the container restarted: %s", containerSummary(p))
	}
}

// resolv.conf follows the pod's dnsPolicy: None takes its dnsConfig alone,
// Default the resolver of the service's host, ClusterFirst adds the
// pod's dnsConfig to the cluster's.
func TestDNSPolicies(t *testing.T) {
	ns := namespace(t)
	none := sleeper("none")
	none.Spec.DNSPolicy = corev1.DNSNone
	none.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}, Searches: []string{"example.test"},
		Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}}}
	def := sleeper("default")
	def.Spec.DNSPolicy = corev1.DNSDefault
	extra := sleeper("extra")
	extra.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"example.test"}, Options: []corev1.PodDNSConfigOption{{Name: "edns0"}}}
	for _, p := range []*corev1.Pod{none, def, extra} {
		createPod(t, ns, p)
	}
	waitRunningPods(t, ns, 3, 2*time.Minute)
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pod       string
		want, not []string
	}{
		{"none", []string{"nameserver 192.0.2.53", "search example.test", "options ndots:2"}, []string{dnsServiceIP}},
		{"default", hostNameservers(string(host)), []string{dnsServiceIP}},
		{"extra", []string{"nameserver " + dnsServiceIP, "search " + ns + ".svc.cluster.local svc.cluster.local cluster.local example.test", "ndots:5", "edns0"}, nil},
	} {
		got := execIn(t, ns, tc.pod, "cat", "/etc/resolv.conf")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: resolv.conf lacks %q:\n%s", tc.pod, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: resolv.conf has %q:\n%s", tc.pod, n, got)
			}
		}
	}
}

// hostNameservers returns the nameserver lines of a resolv.conf.
func hostNameservers(conf string) []string {
	var out []string
	for _, line := range strings.Split(conf, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "nameserver") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	return out
}
