package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	nodectl "github.com/vnode-io/vnode/internal/node"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// approveServingCSR approves, as the cluster admin, the kubelet-serving
// CSR of the in-process agent (nothing in the cluster approves those),
// and waits until its kubelet API completes a TLS handshake with a
// certificate of the cluster CA. It returns an HTTPS client that trusts
// that CA and presents no certificate.
func approveServingCSR(t *testing.T) *http.Client {
	t.Helper()
	ctx := context.Background()
	csrs := env.client.CertificatesV1().CertificateSigningRequests()
	caPEM, err := os.ReadFile(filepath.Join(env.cluster.Config().StateDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	framework.WaitFor(t, "the kubelet API serving with an approved certificate", 2*time.Minute, func() (bool, error) {
		list, err := csrs.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range list.Items {
			csr := &list.Items[i]
			if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName || approved(csr) || !forNode(csr, nodectl.DefaultNodeName) {
				continue
			}
			csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
				Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "E2E", Message: "approved by the e2e test",
			})
			if _, err := csrs.UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
				return false, err
			}
		}
		resp, err := client.Get("https://" + env.agent.endpoints.Kubelet + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return client
}

func approved(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied {
			return true
		}
	}
	return false
}

// forNode reports whether the CSR asks for node's identity.
func forNode(csr *certificatesv1.CertificateSigningRequest, node string) bool {
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		return false
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	return err == nil && req.Subject.CommonName == "system:node:"+node
}

// runningPodOnNode creates a pod bound to the virtual node, with one
// container "app" that the memory backend runs, and waits until it runs.
func runningPodOnNode(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:      nodectl.DefaultNodeName,
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "app", Image: "localhost:5000/hello:latest",
				Env: []corev1.EnvVar{{Name: "GREETING", Value: "hello"}},
			}},
		},
	}
	if _, err := env.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *corev1.Pod
	framework.WaitFor(t, "pod "+name+" Running", time.Minute, func() (bool, error) {
		var err error
		got, err = env.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.PodRunning, err
	})
	return got
}
