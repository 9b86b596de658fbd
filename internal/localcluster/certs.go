package localcluster

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/vnode-io/vnode/internal/pki"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how long before expiry a certificate is reissued.
	renewBefore = 30 * 24 * time.Hour
)

var (
	serverAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
)

// caFile names a certificate authority of the cluster.
type caFile struct {
	dir, name, commonName string
}

// leafFile names a certificate issued by one of the CAs.
type leafFile struct {
	dir, name string
	ca        caFile
	spec      pki.Spec
}

// certPlan lists every CA and certificate a cluster needs.
type certPlan struct {
	cas    []caFile
	leaves []leafFile
}

// planCerts decides the certificates for cfg. etcd has a CA of its own: the
// cluster CA also signs certificates that the controller-manager issues for
// approved CSRs, and those must never open etcd.
func planCerts(l layout, cfg Config, advertise net.IP) certPlan {
	cluster := caFile{l.pki(), "ca", "vnode-ca"}
	frontProxy := caFile{l.pki(), "front-proxy-ca", "vnode-front-proxy-ca"}
	etcd := caFile{l.etcdPKI(), "ca", "vnode-etcd-ca"}
	svcIP, _ := serviceIP(cfg.ServiceCIDR) // validated before
	loopback := []net.IP{net.IPv4(127, 0, 0, 1).To4()}

	leaf := func(dir, name string, ca caFile, cn string, org []string, usages []x509.ExtKeyUsage, dns []string, ips []net.IP) leafFile {
		return leafFile{dir: dir, name: name, ca: ca, spec: pki.Spec{
			CommonName: cn, Organization: org, Usages: usages, DNSNames: dns, IPs: ips, Validity: leafValidity,
		}}
	}
	apiserverDNS := []string{
		"kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + cfg.ClusterDomain, "localhost",
	}
	if host, err := os.Hostname(); err == nil && host != "" && host != "localhost" {
		apiserverDNS = append(apiserverDNS, host)
	}
	apiserverIPs := append([]net.IP{}, loopback...)
	apiserverIPs = append(apiserverIPs, svcIP)
	if !advertise.Equal(svcIP) && !advertise.IsLoopback() {
		apiserverIPs = append(apiserverIPs, advertise)
	}
	p := l.pki()
	plan := certPlan{
		cas: []caFile{cluster, frontProxy, etcd},
		leaves: []leafFile{
			leaf(p, "apiserver", cluster, "kube-apiserver", nil, serverAuth, apiserverDNS, apiserverIPs),
			leaf(p, "apiserver-kubelet-client", cluster, "kube-apiserver-kubelet-client", nil, clientAuth, nil, nil),
			leaf(p, "admin", cluster, "kubernetes-admin", []string{"system:masters"}, clientAuth, nil, nil),
			leaf(p, "controller-manager", cluster, "system:kube-controller-manager", nil, clientAuth, nil, nil),
			leaf(p, "scheduler", cluster, "system:kube-scheduler", nil, clientAuth, nil, nil),
			leaf(p, "controller-manager-serving", cluster, "kube-controller-manager", nil, serverAuth, []string{"localhost"}, loopback),
			leaf(p, "scheduler-serving", cluster, "kube-scheduler", nil, serverAuth, []string{"localhost"}, loopback),
			leaf(p, "front-proxy-client", frontProxy, "front-proxy-client", nil, clientAuth, nil, nil),
			leaf(l.etcdPKI(), "server", etcd, "vnode-etcd", nil, serverAuth, []string{"localhost"}, loopback),
			leaf(l.etcdPKI(), "apiserver-client", etcd, "kube-apiserver-etcd-client", nil, clientAuth, nil, nil),
			leaf(l.etcdPKI(), "healthcheck-client", etcd, "vnode-etcd-healthcheck", nil, clientAuth, nil, nil),
			leaf(p, "instances-serving", cluster, "vnode-instances", nil, serverAuth, []string{"localhost"}, loopback),
		},
	}
	if cfg.VnodeBinary != "" {
		// The virtual node: its identity in the Node authorizer's terms, and
		// the kubelet API's serving certificate for its InternalIP.
		nodeDNS := []string{NodeName, "localhost"}
		if host, err := os.Hostname(); err == nil && host != "" && host != "localhost" {
			nodeDNS = append(nodeDNS, host)
		}
		nodeIPs := append([]net.IP{}, loopback...)
		if !advertise.IsLoopback() {
			nodeIPs = append(nodeIPs, advertise)
		}
		plan.leaves = append(plan.leaves,
			leaf(p, "node", cluster, "system:node:"+NodeName, []string{"system:nodes"}, clientAuth, nil, nil),
			leaf(p, "node-serving", cluster, "system:node:"+NodeName, []string{"system:nodes"}, serverAuth, nodeDNS, nodeIPs))
	}
	if withKubeProxy(cfg) {
		// The identity the default system:node-proxier binding names.
		plan.leaves = append(plan.leaves, leaf(p, "kube-proxy", cluster, "system:kube-proxy", nil, clientAuth, nil, nil))
	}
	return plan
}

// certReport says what ensureCerts did, for the progress output.
type certReport struct {
	newCAs, issued int
}

// ensureCerts loads each certificate of the plan and issues those that are
// missing, expiring, or no longer match the plan (a new advertise address,
// say). CAs are created only when absent, so a cluster keeps its CA across
// restarts.
func ensureCerts(plan certPlan, now time.Time) (certReport, error) {
	var report certReport
	cas := map[caFile]*pki.CertKey{}
	for _, ca := range plan.cas {
		loaded, err := pki.Load(ca.dir, ca.name)
		switch {
		case err == nil:
			cas[ca] = loaded
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return report, fmt.Errorf("CA %s: %w (remove the state directory to start afresh)", filepath.Join(ca.dir, ca.name), err)
		}
		created, err := pki.NewCA(ca.commonName, caValidity, now)
		if err != nil {
			return report, err
		}
		if err := created.Write(ca.dir, ca.name); err != nil {
			return report, err
		}
		cas[ca] = created
		report.newCAs++
	}
	for _, leaf := range plan.leaves {
		ca := cas[leaf.ca]
		if existing, err := pki.Load(leaf.dir, leaf.name); err == nil && existing.Matches(leaf.spec, ca, now, renewBefore) {
			continue
		}
		issued, err := ca.Issue(leaf.spec, now)
		if err != nil {
			return report, err
		}
		if err := issued.Write(leaf.dir, leaf.name); err != nil {
			return report, err
		}
		report.issued++
	}
	return report, nil
}

// ensureServiceAccountKey creates the key pair that signs service-account
// tokens, once: replacing it would invalidate every issued token.
func ensureServiceAccountKey(l layout) error {
	if _, err := os.Stat(l.path("pki", "sa.key")); err == nil {
		return nil
	}
	return pki.NewSigningKey(l.pki(), "sa")
}
