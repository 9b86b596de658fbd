package localcluster

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vnode-io/vnode/internal/k8sbin"
	nodectl "github.com/vnode-io/vnode/internal/node"
	"github.com/vnode-io/vnode/internal/pki"
)

// API client rates for the controller-manager and the scheduler. The
// defaults (20 QPS for the controllers, 50 for the scheduler) make a burst
// of 1,000 pods wait on the control plane's own clients.
const (
	controlPlaneQPS   = 500
	controlPlaneBurst = 1000
)

// component is a control-plane process: what to run and how to tell that
// it is ready. It is plain data, so Status can rebuild it from a saved
// configuration without starting anything.
type component struct {
	name   string
	binary string
	args   []string
	probe  probe
}

// components returns the control plane in start order.
func components(l layout, cfg Config, advertise net.IP) []component {
	comps := []component{
		etcdComponent(l, cfg),
		apiserverComponent(l, cfg, advertise),
		controllerManagerComponent(l, cfg),
		schedulerComponent(l, cfg),
	}
	if cfg.VnodeBinary != "" {
		if cfg.Runtime == RuntimeContainerd {
			open, private := registryConfigs(l, cfg, "")
			comps = append(comps, registryComponent(registryName, open, cfg.Ports.Registry, false),
				registryComponent(privateRegistryName, private, cfg.Ports.PrivateRegistry, true))
		}
		comps = append(comps, instancesComponent(l, cfg), nodeComponent(l, cfg, advertise))
		if withKubeProxy(cfg) {
			comps = append(comps, kubeProxyComponent(l, cfg))
		}
	}
	return comps
}

// NodeName is the local cluster's virtual node, named as AKS names its own.
const NodeName = nodectl.DefaultNodeName

// nodeComponentName is the virtual node's component name.
const nodeComponentName = "node"

// nodeComponent runs the virtual node: `vnode node` with the ACI backend
// on the container instances service, its kubelet API on every address
// with a serving certificate from the cluster CA, client certificates of
// the cluster CA accepted (the API server's kubelet client), and its
// /healthz — served once the Node is registered — as readiness.
func nodeComponent(l layout, cfg Config, advertise net.IP) component {
	p := l.pki()
	metrics := "127.0.0.1:" + strconv.Itoa(cfg.Ports.NodeMetrics)
	args := []string{"--cluster-domain=" + cfg.ClusterDomain}
	if withKubeProxy(cfg) {
		// Cluster DNS needs Services, hence kube-proxy.
		if ip, err := clusterDNSIP(cfg.ServiceCIDR); err == nil {
			args = append(args, "--cluster-dns="+ip.String())
		}
	}
	if cfg.TokenMaxAge > 0 {
		args = append(args, "--service-account-token-max-age="+cfg.TokenMaxAge.String())
	}
	return component{
		name:   nodeComponentName,
		binary: cfg.VnodeBinary,
		args: append([]string{"node",
			"--kubeconfig=" + l.kubeconfig("node"),
			"--node-name=" + NodeName,
			"--backend=aci",
			"--aci-client-dir=" + l.instances(),
			"--internal-ip=" + advertise.String(),
			"--port=" + strconv.Itoa(cfg.Ports.Kubelet),
			"--kubelet-cert=" + filepath.Join(p, "node-serving.crt"),
			"--kubelet-key=" + filepath.Join(p, "node-serving.key"),
			"--client-ca-file=" + filepath.Join(p, "ca.crt"),
			"--metrics-addr=" + metrics,
		}, args...),
		probe: probe{url: "http://" + metrics + "/healthz", body: "ok"},
	}
}

// instancesName is the container instances service's component name.
const instancesName = "instances"

func instancesComponent(l layout, cfg Config) component {
	return component{
		name:   instancesName,
		binary: cfg.VnodeBinary,
		args:   []string{"instances", "serve", "--config", l.instancesConfig()},
		probe:  healthzProbe(l, cfg.Ports.Instances),
	}
}

func etcdComponent(l layout, cfg Config) component {
	client := "https://127.0.0.1:" + strconv.Itoa(cfg.Ports.EtcdClient)
	peer := "http://127.0.0.1:" + strconv.Itoa(cfg.Ports.EtcdPeer)
	e := l.etcdPKI()
	return component{
		name:   "etcd",
		binary: filepath.Join(cfg.BinDir, k8sbin.Etcd),
		args: []string{
			"--name=vnode",
			"--data-dir=" + l.etcdData(),
			"--listen-client-urls=" + client,
			"--advertise-client-urls=" + client,
			// The peer URL stays on loopback over plain HTTP: a single
			// member never talks to a peer.
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=vnode=" + peer,
			"--cert-file=" + filepath.Join(e, "server.crt"),
			"--key-file=" + filepath.Join(e, "server.key"),
			"--trusted-ca-file=" + filepath.Join(e, "ca.crt"),
			"--client-cert-auth=true",
			"--snapshot-count=10000",
			"--log-level=warn",
		},
		probe: probe{
			url:  client + "/health",
			ca:   filepath.Join(e, "ca.crt"),
			cert: certRef{e, "healthcheck-client"},
			body: `"health":"true"`,
		},
	}
}

func apiserverComponent(l layout, cfg Config, advertise net.IP) component {
	p := l.pki()
	f := func(name string) string { return filepath.Join(p, name) }
	return component{
		name:   "kube-apiserver",
		binary: filepath.Join(cfg.BinDir, k8sbin.KubeAPIServer),
		args: []string{
			"--advertise-address=" + advertise.String(),
			"--secure-port=" + strconv.Itoa(cfg.Ports.APIServer),
			"--etcd-servers=https://127.0.0.1:" + strconv.Itoa(cfg.Ports.EtcdClient),
			"--etcd-cafile=" + filepath.Join(l.etcdPKI(), "ca.crt"),
			"--etcd-certfile=" + filepath.Join(l.etcdPKI(), "apiserver-client.crt"),
			"--etcd-keyfile=" + filepath.Join(l.etcdPKI(), "apiserver-client.key"),
			"--tls-cert-file=" + f("apiserver.crt"),
			"--tls-private-key-file=" + f("apiserver.key"),
			"--client-ca-file=" + f("ca.crt"),
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true",
			"--service-cluster-ip-range=" + cfg.ServiceCIDR,
			"--service-account-issuer=https://kubernetes.default.svc." + cfg.ClusterDomain,
			"--service-account-key-file=" + f("sa.pub"),
			"--service-account-signing-key-file=" + f("sa.key"),
			"--kubelet-client-certificate=" + f("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + f("apiserver-kubelet-client.key"),
			"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
			"--proxy-client-cert-file=" + f("front-proxy-client.crt"),
			"--proxy-client-key-file=" + f("front-proxy-client.key"),
			"--requestheader-client-ca-file=" + f("front-proxy-ca.crt"),
			"--requestheader-allowed-names=front-proxy-client",
			"--requestheader-username-headers=X-Remote-User",
			"--requestheader-group-headers=X-Remote-Group",
			"--requestheader-extra-headers-prefix=X-Remote-Extra-",
			// Aggregated APIs (metrics-server) are reached at their
			// endpoints' addresses, without needing a Service proxy on the host.
			"--enable-aggregator-routing=true",
			"--cert-dir=" + l.certDir("apiserver-generated"),
			"--profiling=false",
		},
		probe: probe{
			url:  "https://127.0.0.1:" + strconv.Itoa(cfg.Ports.APIServer) + "/readyz",
			ca:   f("ca.crt"),
			cert: certRef{p, "admin"},
			body: "ok",
		},
	}
}

func controllerManagerComponent(l layout, cfg Config) component {
	p := l.pki()
	f := func(name string) string { return filepath.Join(p, name) }
	kubeconfig := l.kubeconfig("controller-manager")
	return component{
		name:   "kube-controller-manager",
		binary: filepath.Join(cfg.BinDir, k8sbin.KubeControllerManager),
		args: append(securePortArgs(l, "controller-manager", cfg.Ports.ControllerManager),
			"--kubeconfig="+kubeconfig,
			"--root-ca-file="+f("ca.crt"),
			"--service-account-private-key-file="+f("sa.key"),
			"--use-service-account-credentials=true",
			"--cluster-signing-cert-file="+f("ca.crt"),
			"--cluster-signing-key-file="+f("ca.key"),
			"--service-cluster-ip-range="+cfg.ServiceCIDR,
			"--controllers=*,bootstrapsigner,tokencleaner",
			"--kube-api-qps="+strconv.Itoa(controlPlaneQPS),
			"--kube-api-burst="+strconv.Itoa(controlPlaneBurst),
			"--concurrent-deployment-syncs=10",
			"--concurrent-replicaset-syncs=10",
			// One instance per cluster: leader election would only delay
			// the start by a lease period after a restart.
			"--leader-elect=false",
			"--profiling=false",
		),
		probe: healthzProbe(l, cfg.Ports.ControllerManager),
	}
}

func schedulerComponent(l layout, cfg Config) component {
	return component{
		name:   "kube-scheduler",
		binary: filepath.Join(cfg.BinDir, k8sbin.KubeScheduler),
		args:   append(securePortArgs(l, "scheduler", cfg.Ports.Scheduler), "--config="+schedulerConfigPath(l)),
		probe:  healthzProbe(l, cfg.Ports.Scheduler),
	}
}

// securePortArgs are the flags that the controller-manager and the
// scheduler share: delegated authentication and authorization through
// their kubeconfig, and HTTPS on loopback with a serving certificate from
// the cluster CA.
func securePortArgs(l layout, user string, port int) []string {
	kubeconfig := l.kubeconfig(user)
	f := func(name string) string { return filepath.Join(l.pki(), name) }
	return []string{
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + f(user+"-serving.crt"),
		"--tls-private-key-file=" + f(user+"-serving.key"),
		"--client-ca-file=" + f("ca.crt"),
		"--requestheader-client-ca-file=" + f("front-proxy-ca.crt"),
		"--cert-dir=" + l.certDir(user+"-generated"),
	}
}

// healthzProbe checks /healthz on a loopback secure port, verifying the
// server against the cluster CA.
func healthzProbe(l layout, port int) probe {
	return probe{
		url:  "https://127.0.0.1:" + strconv.Itoa(port) + "/healthz",
		ca:   filepath.Join(l.pki(), "ca.crt"),
		body: "ok",
	}
}

func schedulerConfigPath(l layout) string {
	return l.path("pki", "scheduler-config.yaml")
}

// schedulerConfig is the scheduler's configuration file: its client rates
// exist only there, the flags that set them being deprecated.
func schedulerConfig(l layout) []byte {
	return []byte(strings.Join([]string{
		"apiVersion: kubescheduler.config.k8s.io/v1",
		"kind: KubeSchedulerConfiguration",
		"clientConnection:",
		"  kubeconfig: " + strconv.Quote(l.kubeconfig("scheduler")),
		fmt.Sprintf("  qps: %d", controlPlaneQPS),
		fmt.Sprintf("  burst: %d", controlPlaneBurst),
		"leaderElection:",
		"  leaderElect: false",
		"",
	}, "\n"))
}

func writeSchedulerConfig(l layout) error {
	return pki.WriteFile(schedulerConfigPath(l), schedulerConfig(l), 0o644)
}
