package localcluster

import (
	"slices"
	"strings"
	"testing"
)

func TestClusterDNSIP(t *testing.T) {
	ip, err := clusterDNSIP("10.0.0.0/16")
	if err != nil || ip.String() != "10.0.0.10" {
		t.Errorf("clusterDNSIP(10.0.0.0/16) = %v, %v", ip, err)
	}
	for _, bad := range []string{"10.0.0.0/29", "fd00::/64", "nonsense"} {
		if _, err := clusterDNSIP(bad); err == nil {
			t.Errorf("clusterDNSIP(%s) accepted", bad)
		}
	}
}

// kube-proxy and cluster DNS come with container groups that have
// addresses (containerd); the node then points ClusterFirst pods at the
// DNS Service.
func TestNetworkingComponents(t *testing.T) {
	for _, tc := range []struct {
		runtime string
		want    bool
	}{{RuntimeContainerd, true}, {RuntimeFake, false}} {
		cfg, err := Config{StateDir: t.TempDir(), BinDir: fakeBinDir(t), VnodeBinary: "/bin/true", Runtime: tc.runtime}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		var nodeArgs []string
		for _, c := range components(layout{cfg.StateDir}, cfg, nil) {
			names = append(names, c.name)
			if c.name == nodeComponentName {
				nodeArgs = c.args
			}
		}
		if got := slices.Contains(names, kubeProxyName); got != tc.want {
			t.Errorf("%s: kube-proxy among %v: %v", tc.runtime, names, got)
		}
		if got := slices.Contains(nodeArgs, "--cluster-dns=10.0.0.10"); got != tc.want {
			t.Errorf("%s: node args %v", tc.runtime, nodeArgs)
		}
		if !slices.Contains(nodeArgs, "--cluster-domain=cluster.local") {
			t.Errorf("%s: node args %v lack the cluster domain", tc.runtime, nodeArgs)
		}
	}
}

// kube-proxy's configuration names its ports and the groups' subnet and
// leaves the host's sysctls alone.
func TestKubeProxyConfig(t *testing.T) {
	cfg, err := Config{StateDir: "/state", BinDir: "/bin", Ports: Ports{ProxyHealthz: 20256, ProxyMetrics: 20249},
		GroupSubnet: "10.241.7.0/24"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	got := string(kubeProxyConfig(layout{cfg.StateDir}, cfg))
	for _, want := range []string{`clusterCIDR: "10.241.7.0/24"`, `healthzBindAddress: "127.0.0.1:20256"`,
		`metricsBindAddress: "127.0.0.1:20249"`, `hostnameOverride: "virtual-node-aci-linux"`, "maxPerCore: 0",
		"tcpEstablishedTimeout: 0s", "localhostNodePorts: false", `kubeconfig: "/state/pki/kube-proxy.kubeconfig"`} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}

func TestDNSObjects(t *testing.T) {
	ip, _ := clusterDNSIP("10.0.0.0/16")
	o := newDNSObjects("127.0.0.1:5000/vnode/coredns:1", "example.org", ip)
	if o.service.Spec.ClusterIP != "10.0.0.10" || o.service.Namespace != "kube-system" || o.service.Name != "kube-dns" {
		t.Errorf("service %+v", o.service.ObjectMeta)
	}
	if !strings.Contains(o.config.Data["Corefile"], "kubernetes example.org in-addr.arpa ip6.arpa") {
		t.Errorf("Corefile:\n%s", o.config.Data["Corefile"])
	}
	spec := o.deployment.Spec.Template.Spec
	if spec.NodeSelector["type"] != "virtual-kubelet" || spec.DNSPolicy != "Default" || spec.ServiceAccountName != "coredns" ||
		spec.Containers[0].Image != "127.0.0.1:5000/vnode/coredns:1" {
		t.Errorf("deployment spec %+v", spec)
	}
}
