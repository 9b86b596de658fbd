package localcluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// portUse is a port that a component listens on.
type portUse struct {
	component string
	host      string
	port      int
}

func (cfg Config) ports() []portUse {
	uses := []portUse{
		{"etcd", "127.0.0.1", cfg.Ports.EtcdClient},
		{"etcd (peer)", "127.0.0.1", cfg.Ports.EtcdPeer},
		// The API server listens on every address, as in any cluster: the
		// container groups reach it at the advertise address.
		{"kube-apiserver", "", cfg.Ports.APIServer},
		{"kube-controller-manager", "127.0.0.1", cfg.Ports.ControllerManager},
		{"kube-scheduler", "127.0.0.1", cfg.Ports.Scheduler},
	}
	if cfg.VnodeBinary != "" {
		uses = append(uses, portUse{"container instances service", "127.0.0.1", cfg.Ports.Instances},
			portUse{"virtual node (kubelet API)", "", cfg.Ports.Kubelet},
			portUse{"virtual node (metrics)", "127.0.0.1", cfg.Ports.NodeMetrics})
		if cfg.Runtime == RuntimeContainerd {
			uses = append(uses, portUse{"registry", "127.0.0.1", cfg.Ports.Registry},
				portUse{"registry (private)", "127.0.0.1", cfg.Ports.PrivateRegistry},
				portUse{"kube-proxy (healthz)", "127.0.0.1", cfg.Ports.ProxyHealthz},
				portUse{"kube-proxy (metrics)", "127.0.0.1", cfg.Ports.ProxyMetrics})
		}
	}
	return uses
}

// checkPortsFree tries to listen on every port and reports each one that
// is taken, with the component that needs it.
func checkPortsFree(uses []portUse) error {
	var errs []error
	for _, u := range uses {
		l, err := net.Listen("tcp", net.JoinHostPort(u.host, strconv.Itoa(u.port)))
		if err != nil {
			errs = append(errs, fmt.Errorf("port %d for %s is already in use (choose another with its --*-port flag, or stop what holds it): %w", u.port, u.component, err))
			continue
		}
		l.Close()
	}
	return errors.Join(errs...)
}

// FreePorts returns ports that were free a moment ago, for tests that run
// clusters side by side. Another process may take one before it is used;
// Start then fails with a clear error rather than misbehaving.
func FreePorts() (Ports, error) {
	var ports [12]int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Ports{}, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return Ports{APIServer: ports[0], EtcdClient: ports[1], EtcdPeer: ports[2], ControllerManager: ports[3], Scheduler: ports[4],
		Instances: ports[5], Registry: ports[6], PrivateRegistry: ports[7], Kubelet: ports[8], NodeMetrics: ports[9],
		ProxyHealthz: ports[10], ProxyMetrics: ports[11]}, nil
}
