// Package down implements `vnode down`, which stops the local cluster
// running from a state directory.
package down

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnode-io/vnode/internal/localcluster"
)

// NewCommand returns the down command.
func NewCommand() *cobra.Command {
	var stateDir string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the local cluster; its state stays for the next `vnode up`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stateDir == "" {
				return fmt.Errorf("no state directory: pass --state-dir or set VNODE_STATE_DIR")
			}
			wasRunning, err := localcluster.Down(cmd.Context(), stateDir, grace)
			if err != nil {
				return err
			}
			if wasRunning {
				fmt.Fprintf(cmd.OutOrStdout(), "stopped the cluster in %s\n", stateDir)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "no cluster was running in %s\n", stateDir)
			}
			return nil
		},
	}
	defaultState, _ := localcluster.DefaultStateDir()
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultState, "state directory of the cluster (env VNODE_STATE_DIR)")
	cmd.Flags().DurationVar(&grace, "grace", 15*time.Second, "how long each process may take to exit before it is killed")
	return cmd
}
