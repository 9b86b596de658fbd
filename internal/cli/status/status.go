// Package status implements `vnode status`, which shows each component of
// the local cluster: running or not, ready or not, pid and log.
package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vnode-io/vnode/internal/localcluster"
)

// NewCommand returns the status command.
func NewCommand() *cobra.Command {
	var stateDir, output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the state of each component of the local cluster; exits non-zero unless all are ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stateDir == "" {
				return fmt.Errorf("no state directory: pass --state-dir or set VNODE_STATE_DIR")
			}
			st, err := localcluster.GetStatus(cmd.Context(), stateDir)
			if err != nil {
				return err
			}
			switch output {
			case "":
				printTable(cmd.OutOrStdout(), st)
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			default:
				return fmt.Errorf("--output must be json or empty, not %q", output)
			}
			if !st.Ready() {
				return errors.New("the cluster is not ready")
			}
			return nil
		},
	}
	defaultState, _ := localcluster.DefaultStateDir()
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultState, "state directory of the cluster (env VNODE_STATE_DIR)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func printTable(w io.Writer, st localcluster.Status) {
	if st.SupervisorPid != 0 {
		fmt.Fprintf(w, "cluster in %s, supervised by vnode pid %d\nkubeconfig: %s\n\n", st.StateDir, st.SupervisorPid, st.Kubeconfig)
	} else {
		fmt.Fprintf(w, "cluster in %s is not running\n\n", st.StateDir)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATE\tPID\tLOG")
	for _, c := range st.Components {
		state, pid := "stopped", "-"
		if c.Running {
			pid = fmt.Sprint(c.Pid)
			state = "running, not ready"
			if c.Ready {
				state = "ready"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, state, pid, c.LogPath)
	}
	tw.Flush()
	for _, c := range st.Components {
		if c.Running && !c.Ready {
			fmt.Fprintf(w, "%s: %s\n", c.Name, c.Reason)
		}
	}
}
