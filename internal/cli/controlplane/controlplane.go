// Package controlplane implements `vnode controlplane`, which builds and
// locates the pinned Kubernetes and etcd binaries, and the flags other
// commands use to find them.
package controlplane

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnode-io/vnode/internal/k8sbin"
)

// Flags locate the control-plane binaries.
type Flags struct {
	CacheDir string
	Source   string
	BinDir   string
}

// AddFlags registers the flags on fs, with defaults from the environment.
func (f *Flags) AddFlags(fs *pflag.FlagSet, withBinDir bool) {
	cacheDir, _ := k8sbin.DefaultCacheDir()
	fs.StringVar(&f.CacheDir, "cache-dir", cacheDir, "cache of built binaries (env VNODE_CACHE_DIR)")
	fs.StringVar(&f.Source, "controlplane-source", os.Getenv("VNODE_CONTROLPLANE_SOURCE"),
		"hack/controlplane of a vnode source tree holding the pins; found from the working directory or the vnode binary when empty (env VNODE_CONTROLPLANE_SOURCE)")
	if withBinDir {
		fs.StringVar(&f.BinDir, "bin-dir", "", "use prebuilt control-plane binaries from this directory instead of the cache")
	}
}

// Resolve returns the binaries to run: --bin-dir when given, else the
// cache entry for the pins in the source tree (built when missing), else
// the most recent cache entry when no source tree is at hand.
func (f *Flags) Resolve(ctx context.Context, progress io.Writer) (k8sbin.Set, error) {
	if f.BinDir != "" {
		return k8sbin.CheckDir(f.BinDir)
	}
	if f.CacheDir == "" {
		return k8sbin.Set{}, fmt.Errorf("no cache directory: set --cache-dir or VNODE_CACHE_DIR")
	}
	source := f.Source
	if source == "" {
		wd, _ := os.Getwd()
		exe, _ := os.Executable()
		source = k8sbin.FindSource(wd, filepath.Dir(exe))
	}
	if source == "" {
		return k8sbin.Current(f.CacheDir)
	}
	b := &k8sbin.Builder{SourceDir: source, CacheDir: f.CacheDir, Progress: progress}
	return b.Ensure(ctx)
}

// NewCommand returns the controlplane command.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "controlplane",
		Short: "Build or locate the pinned Kubernetes and etcd binaries",
	}
	cmd.AddCommand(newBuildCommand(), newPathCommand())
	return cmd
}

func newBuildCommand() *cobra.Command {
	var f Flags
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and kubectl into the cache (once per pin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := f.Resolve(cmd.Context(), cmd.OutOrStdout())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "control-plane binaries in %s\n", set.Dir)
			return nil
		},
	}
	f.AddFlags(cmd.Flags(), false)
	return cmd
}

func newPathCommand() *cobra.Command {
	var f Flags
	cmd := &cobra.Command{
		Use:   "path",
		Short: "Print the directory of the control-plane binaries, building them first if needed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := f.Resolve(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), set.Dir)
			return nil
		},
	}
	f.AddFlags(cmd.Flags(), false)
	return cmd
}
