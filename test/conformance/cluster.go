package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/internal/node"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// cluster is the cluster a run tests: one it started (stack set), or a
// running one of the user's.
type cluster struct {
	kubeconfig string
	regs       localcluster.Registries
	client     kubernetes.Interface
	stack      *framework.Stack
	tmp        string
	results    string
	// untainted are the nodes whose taint untaint removed, to restore on
	// a cluster of the user's.
	untainted []string
}

// openCluster starts a cluster on free ports (with vnode up --detach, its
// groups on a bridge and subnet of their own), or uses the running one of
// f.stateDir.
func openCluster(ctx context.Context, f runFlags, set k8sbin.Set, results string, out io.Writer) (*cluster, error) {
	c := &cluster{results: results}
	stateDir := f.stateDir
	if stateDir == "" {
		if reason := framework.MissingStackPrereqs(); reason != "" {
			return nil, errors.New("cannot start a cluster: " + reason)
		}
		vnode, err := filepath.Abs(f.vnode)
		if err != nil {
			return nil, err
		}
		if c.tmp, err = os.MkdirTemp("", "vnode-conformance-"); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "starting a cluster in %s\n", c.tmp)
		if c.stack, err = framework.StartStack(ctx, set, vnode, c.tmp, "vnconf", f.subnet); err != nil {
			os.RemoveAll(c.tmp)
			return nil, err
		}
		stateDir = c.stack.StateDir
		fmt.Fprintf(out, "cluster up: API server on port %d, registry %s\n", c.stack.Ports.APIServer, c.stack.Regs.Open)
	}
	c.kubeconfig = filepath.Join(stateDir, "kubeconfig")
	var err error
	if c.regs, err = localcluster.ReadRegistries(stateDir); err != nil {
		c.close(out)
		return nil, err
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		c.close(out)
		return nil, fmt.Errorf("kubeconfig of %s: %w", stateDir, err)
	}
	if c.client, err = kubernetes.NewForConfig(restConfig); err != nil {
		c.close(out)
		return nil, err
	}
	return c, nil
}

// untaint removes the virtual node's taint from every node, so that the
// suite's pods, which do not tolerate it, land on the virtual node. The
// node agent puts it back only when it registers the node again.
func (c *cluster) untaint(ctx context.Context, out io.Writer) error {
	key := node.DefaultTaint().Key
	nodes, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	if len(nodes.Items) == 0 {
		return errors.New("the cluster has no node")
	}
	for _, n := range nodes.Items {
		removed := false
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := c.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			var kept []corev1.Taint
			for _, t := range cur.Spec.Taints {
				if t.Key != key {
					kept = append(kept, t)
				}
			}
			if len(kept) == len(cur.Spec.Taints) {
				return nil
			}
			cur.Spec.Taints = kept
			_, err = c.client.CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{})
			removed = err == nil
			return err
		})
		if err != nil {
			return fmt.Errorf("remove the taint %s from node %s: %w", key, n.Name, err)
		}
		if removed {
			fmt.Fprintf(out, "removed the taint %s from node %s\n", key, n.Name)
			c.untainted = append(c.untainted, n.Name)
		}
	}
	return nil
}

// close stops a cluster the run started, after copying its component logs
// into the results; on a cluster of the user's it puts the taints back.
func (c *cluster) close(out io.Writer) {
	if c.stack == nil {
		c.retaint(out)
		return
	}
	if err := copyLogs(filepath.Join(c.stack.StateDir, "logs"), filepath.Join(c.results, logsDir)); err != nil {
		fmt.Fprintln(out, "conformance: keep the cluster's logs:", err)
	}
	if err := c.stack.Down(); err != nil {
		fmt.Fprintln(out, "conformance:", err)
	}
	if err := os.RemoveAll(c.tmp); err != nil {
		fmt.Fprintln(out, "conformance:", err)
	}
	fmt.Fprintln(out, "cluster stopped")
}

func (c *cluster) retaint(out io.Writer) {
	taint := node.DefaultTaint()
	for _, name := range c.untainted {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := c.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Spec.Taints = append(cur.Spec.Taints, taint)
			_, err = c.client.CoreV1().Nodes().Update(context.Background(), cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			fmt.Fprintf(out, "conformance: put the taint back on node %s: %v\n", name, err)
		}
	}
}

// copyLogs copies the *.log files of dir into dst.
func copyLogs(dir, dst string) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(l)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
