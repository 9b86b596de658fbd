package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/pki"
)

// kubeProxyName is kube-proxy's component name.
const kubeProxyName = "kube-proxy"

// withKubeProxy reports whether the cluster runs kube-proxy: only when
// container groups have real addresses on this host (the containerd
// runtime), whose traffic to Service IPs passes through the host.
func withKubeProxy(cfg Config) bool {
	return cfg.VnodeBinary != "" && cfg.Runtime == RuntimeContainerd
}

// kubeProxyComponent runs kube-proxy in iptables mode on the host: the
// container groups' bridge routes through the host, so the host's rules
// give every group (and the host) ClusterIP Services, the API server at
// the kubernetes Service included. It proxies for the virtual node, whose
// InternalIP is the host's address.
func kubeProxyComponent(l layout, cfg Config) component {
	return component{
		name:   kubeProxyName,
		binary: filepath.Join(cfg.BinDir, k8sbin.KubeProxy),
		args:   []string{"--config=" + kubeProxyConfigPath(l)},
		// /healthz answers 200 once the rules have been written.
		probe: probe{url: "http://127.0.0.1:" + strconv.Itoa(cfg.Ports.ProxyHealthz) + "/healthz", body: `"healthy":true`},
	}
}

func kubeProxyConfigPath(l layout) string { return l.path("pki", "kube-proxy-config.yaml") }

// kubeProxyConfig is kube-proxy's configuration file. It leaves the host's
// sysctls alone (conntrack table size and timeouts, route_localnet), so
// that stopping the cluster leaves the host as it was: NodePorts are served
// on the host's primary address only, not on loopback.
func kubeProxyConfig(l layout, cfg Config) []byte {
	return []byte(strings.Join([]string{
		"apiVersion: kubeproxy.config.k8s.io/v1alpha1",
		"kind: KubeProxyConfiguration",
		"clientConnection:",
		"  kubeconfig: " + strconv.Quote(l.kubeconfig("kube-proxy")),
		"mode: iptables",
		"clusterCIDR: " + strconv.Quote(cfg.GroupSubnet),
		"hostnameOverride: " + strconv.Quote(NodeName),
		"healthzBindAddress: " + strconv.Quote("127.0.0.1:"+strconv.Itoa(cfg.Ports.ProxyHealthz)),
		"metricsBindAddress: " + strconv.Quote("127.0.0.1:"+strconv.Itoa(cfg.Ports.ProxyMetrics)),
		"nodePortAddresses: [primary]",
		"iptables:",
		"  localhostNodePorts: false",
		"conntrack:",
		"  maxPerCore: 0",
		"  tcpEstablishedTimeout: 0s",
		"  tcpCloseWaitTimeout: 0s",
		"",
	}, "\n"))
}

func writeKubeProxyConfig(l layout, cfg Config) error {
	return pki.WriteFile(kubeProxyConfigPath(l), kubeProxyConfig(l, cfg), 0o644)
}

// bridgeNetfilter is the sysctl that passes bridged traffic through
// iptables: without it a group's reply to another group on the same bridge
// that reached it through a Service IP skips the reverse translation.
const bridgeNetfilter = "/proc/sys/net/bridge/bridge-nf-call-iptables"

// ensureBridgeNetfilter turns bridgeNetfilter on, as kubeadm requires of
// every node, loading the br_netfilter module first when the kernel lacks
// the setting. The setting stays (other bridges' users expect it too).
func ensureBridgeNetfilter() error {
	cur, err := os.ReadFile(bridgeNetfilter)
	if errors.Is(err, os.ErrNotExist) {
		out, modErr := exec.Command("modprobe", "br_netfilter").CombinedOutput()
		if cur, err = os.ReadFile(bridgeNetfilter); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s is missing and modprobe br_netfilter did not add it (%v: %s): Services between container groups need it",
				bridgeNetfilter, modErr, strings.TrimSpace(string(out)))
		}
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", bridgeNetfilter, err)
	}
	if strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(bridgeNetfilter, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable %s: %w", bridgeNetfilter, err)
	}
	return nil
}

// kubeProxyPids returns the pids of the kube-proxy processes that run on
// this host; one that is exiting (its command line already empty, or a
// zombie) does not count.
func kubeProxyPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		comm, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != kubeProxyName {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// checkNoKubeProxy refuses to start a second kube-proxy on the host: its
// rules live in the host's tables, which two would overwrite in turn.
func checkNoKubeProxy() error {
	if pids := kubeProxyPids(); len(pids) > 0 {
		return fmt.Errorf("kube-proxy already runs on this host (pid %d), for another cluster: Services need the host's "+
			"iptables rules to themselves, so one local cluster with the containerd runtime runs per host; stop the other first", pids[0])
	}
	return nil
}

// cleanupKubeProxy removes kube-proxy's rules after it stopped (it leaves
// them in place on exit, so that a restart does not break connections):
// `kube-proxy --cleanup`, then the KUBE-FIREWALL chain that it keeps. It
// does nothing while another kube-proxy runs, whose rules they are.
func cleanupKubeProxy(cfg Config) error {
	if len(kubeProxyPids()) > 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	out, err := exec.CommandContext(ctx, filepath.Join(cfg.BinDir, k8sbin.KubeProxy), "--cleanup").CombinedOutput()
	if err != nil {
		errs = append(errs, fmt.Errorf("kube-proxy --cleanup: %w: %s", err, strings.TrimSpace(string(out))))
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		if err := removeChain(ctx, tool, "filter", "KUBE-FIREWALL", "INPUT", "OUTPUT"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeChain deletes the jumps from the parents to chain, then chain,
// when it exists.
func removeChain(ctx context.Context, tool, table, chain string, parents ...string) error {
	run := func(args ...string) error {
		out, err := exec.CommandContext(ctx, tool, append([]string{"-w", "-t", table}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if _, err := exec.LookPath(tool); err != nil {
		return nil
	}
	if run("-n", "-L", chain) != nil {
		return nil // absent
	}
	for _, parent := range parents {
		for run("-C", parent, "-j", chain) == nil {
			if err := run("-D", parent, "-j", chain); err != nil {
				return err
			}
		}
	}
	if err := run("-F", chain); err != nil {
		return err
	}
	return run("-X", chain)
}
