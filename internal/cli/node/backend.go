package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"net"

	"github.com/spf13/pflag"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/aci"
	"github.com/vnode-io/vnode/internal/backend/memory"
	"github.com/vnode-io/vnode/internal/instances/client"
)

// aciFlags select what the ACI backend talks to: vnode's container
// instances service (a client directory, as `vnode up` writes it) or Azure.
type aciFlags struct {
	clientDir     string
	subscription  string
	resourceGroup string
	location      string
	subnetIDs     []string
}

func addACIFlags(fs *pflag.FlagSet, f *aciFlags) {
	fs.StringVar(&f.clientDir, "aci-client-dir", "", "aci backend: directory with endpoint, token, ca.crt, subscription, resource-group and location of a vnode container instances service (vnode up writes STATE_DIR/instances)")
	fs.StringVar(&f.subscription, "azure-subscription", "", "aci backend on Azure: subscription id (credentials from the environment, managed identity or the Azure CLI, as azidentity's DefaultAzureCredential finds them)")
	fs.StringVar(&f.resourceGroup, "azure-resource-group", "", "aci backend on Azure: resource group of the container groups")
	fs.StringVar(&f.location, "azure-location", "", "aci backend on Azure: region of the container groups, e.g. westeurope")
	fs.StringArrayVar(&f.subnetIDs, "azure-subnet-id", nil, "aci backend on Azure: subnet resource id for the groups (repeatable)")
}

// newBackend builds the backend the flags name; the returned func releases it.
func newBackend(ctx context.Context, f *flags, log *slog.Logger) (backend.Backend, string, func(), error) {
	switch f.backendName {
	case "memory":
		b, err := memory.New(memory.Config{StartDelay: f.memoryStartDelay, StopDelay: f.memoryStopDelay})
		return b, "memory://v1", func() {}, err
	case "aci":
		cfg, endpoint, err := aciConfig(f)
		if err != nil {
			return nil, "", nil, err
		}
		for _, ip := range f.clusterDNS {
			if net.ParseIP(ip) == nil {
				return nil, "", nil, fmt.Errorf("--cluster-dns %q is not an IP address", ip)
			}
		}
		cfg.DNS = aci.DNS{Servers: f.clusterDNS, Domain: f.clusterDomain}
		cfg.Logger = log
		b, err := aci.New(ctx, cfg)
		if err != nil {
			return nil, "", nil, err
		}
		return b, "aci://" + endpoint, func() { b.Close() }, nil
	default:
		return nil, "", nil, fmt.Errorf("--backend must be memory or aci, not %q", f.backendName)
	}
}

// aciConfig reads either --aci-client-dir or the --azure-* flags.
func aciConfig(f *flags) (aci.Config, string, error) {
	a := f.aci
	azure := a.subscription != "" || a.resourceGroup != "" || a.location != ""
	switch {
	case a.clientDir != "" && azure:
		return aci.Config{}, "", errors.New("--aci-client-dir and --azure-* name two services: give one")
	case a.clientDir != "":
		files, err := client.Load(a.clientDir)
		if err != nil {
			return aci.Config{}, "", fmt.Errorf("--aci-client-dir: %w", err)
		}
		cfg, err := aci.FromFiles(files, f.nodeName)
		cfg.SubnetIDs = a.subnetIDs
		return cfg, files.Endpoint, err
	case azure:
		if a.subscription == "" || a.resourceGroup == "" || a.location == "" {
			return aci.Config{}, "", errors.New("--azure-subscription, --azure-resource-group and --azure-location go together")
		}
		cfg, err := aci.ForAzure(a.subscription, a.resourceGroup, a.location, f.nodeName)
		cfg.SubnetIDs = a.subnetIDs
		return cfg, "management.azure.com", err
	default:
		return aci.Config{}, "", errors.New("--backend aci needs --aci-client-dir (vnode's service) or --azure-subscription, --azure-resource-group and --azure-location (Azure)")
	}
}
