package controlplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/version"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

func newNamespace(t *testing.T) string { return framework.NewNamespace(t, env.client) }

func TestAPIServerVersion(t *testing.T) {
	info, err := env.client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if info.GitVersion != version.Kubernetes {
		t.Errorf("API server reports %s, want %s", info.GitVersion, version.Kubernetes)
	}
}

func TestKubectlVersion(t *testing.T) {
	out, err := exec.Command(env.binaries.Path(k8sbin.Kubectl), "--kubeconfig", env.cluster.Kubeconfig(), "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("kubectl version: %v\n%s", err, out)
	}
	var v struct {
		ClientVersion struct{ GitVersion string } `json:"clientVersion"`
		ServerVersion struct{ GitVersion string } `json:"serverVersion"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("kubectl version output %q: %v", out, err)
	}
	if v.ClientVersion.GitVersion != version.Kubernetes || v.ServerVersion.GitVersion != version.Kubernetes {
		t.Errorf("kubectl reports client %s, server %s; want %s for both", v.ClientVersion.GitVersion, v.ServerVersion.GitVersion, version.Kubernetes)
	}
}

func TestKubernetesServiceIsFirstServiceIP(t *testing.T) {
	svc, err := env.client.CoreV1().Services("default").Get(context.Background(), "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.0.0.1" {
		t.Errorf("kubernetes Service has ClusterIP %s, want 10.0.0.1", svc.Spec.ClusterIP)
	}
}

// A Deployment needs the controller-manager to get a ReplicaSet and pods,
// and the scheduler to mark them unschedulable, as no node exists yet.
func TestDeploymentCreatesReplicaSetAndPendingPods(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	labels := map[string]string{"app": "hello"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: "localhost:5000/hello:latest"}}},
			},
		},
	}
	if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "a ReplicaSet owned by the Deployment", time.Minute, func() (bool, error) {
		list, err := env.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, rs := range list.Items {
			if ref := metav1.GetControllerOf(&rs); ref != nil && ref.Kind == "Deployment" && ref.Name == "hello" {
				return true, nil
			}
		}
		return false, nil
	})
	framework.WaitFor(t, "3 pending pods marked unschedulable", time.Minute, func() (bool, error) {
		list, err := env.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		unschedulable := 0
		for _, pod := range list.Items {
			if pod.Status.Phase != corev1.PodPending {
				continue
			}
			for _, c := range pod.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
					unschedulable++
				}
			}
		}
		return unschedulable == 3, nil
	})
}

func TestServiceAccountTokenRequest(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	sa, err := env.client.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := env.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status.Token == "" {
		t.Fatal("TokenRequest returned no token")
	}

	review, err := clientWithToken(t, tr.Status.Token).AuthenticationV1().SelfSubjectReviews().Create(ctx,
		&authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the API server refused the requested token: %v", err)
	}
	if want := "system:serviceaccount:" + ns + ":robot"; review.Status.UserInfo.Username != want {
		t.Errorf("token authenticates as %q, want %q", review.Status.UserInfo.Username, want)
	}

	_, err = clientWithToken(t, tr.Status.Token+"x").AuthenticationV1().SelfSubjectReviews().Create(ctx,
		&authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Errorf("a forged token got %v, want 401 Unauthorized", err)
	}
}

func clientWithToken(t *testing.T, token string) kubernetes.Interface {
	t.Helper()
	admin, err := env.cluster.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = token
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// A CSR for the client signer, once approved, is signed by the cluster CA
// and the certificate authenticates its subject.
func TestCSRApprovedGetsCertificate(t *testing.T) {
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "e2e-user", Organization: []string{"e2e-group"}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}),
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			ExpirationSeconds: ptr.To[int32](3600),
		},
	}
	csrs := env.client.CertificatesV1().CertificateSigningRequests()
	created, err := csrs.Create(ctx, csr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = csrs.Delete(context.Background(), created.Name, metav1.DeleteOptions{}) })
	created.Status.Conditions = append(created.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "E2E", Message: "approved by the e2e test",
	})
	if _, err := csrs.UpdateApproval(ctx, created.Name, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var certPEM []byte
	framework.WaitFor(t, "the signed certificate", time.Minute, func() (bool, error) {
		got, err := csrs.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		certPEM = got.Status.Certificate
		return len(certPEM) > 0, nil
	})

	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("status.certificate is not PEM: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(env.cluster.Config().StateDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("issued certificate does not verify against the cluster CA: %v", err)
	}

	admin, err := env.cluster.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.CertData = certPEM
	cfg.KeyData = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the issued certificate does not authenticate: %v", err)
	}
	if review.Status.UserInfo.Username != "e2e-user" {
		t.Errorf("certificate authenticates as %q, want e2e-user", review.Status.UserInfo.Username)
	}
}
