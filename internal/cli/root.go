// Package cli assembles vnode's command tree; each verb lives in a package
// of its own below this one.
package cli

import (
	"github.com/spf13/cobra"

	"github.com/vnode-io/vnode/internal/cli/controlplane"
	"github.com/vnode-io/vnode/internal/cli/down"
	"github.com/vnode-io/vnode/internal/cli/instances"
	"github.com/vnode-io/vnode/internal/cli/node"
	"github.com/vnode-io/vnode/internal/cli/status"
	"github.com/vnode-io/vnode/internal/cli/up"
	"github.com/vnode-io/vnode/internal/cli/version"
)

// NewRootCommand returns the vnode command with all its subcommands.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "vnode",
		Short: "Virtual nodes for Kubernetes backed by a serverless container instances service",
		Long: `vnode runs Kubernetes pods on a container instances service that speaks
Azure Container Instances' API, through a virtual node, and starts a local
cluster to run them on.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.AddCommand(
		version.NewCommand(),
		controlplane.NewCommand(),
		up.NewCommand(),
		down.NewCommand(),
		node.NewCommand(),
		instances.NewCommand(),
		status.NewCommand(),
	)
	return root
}
