package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vnode-io/vnode/internal/conformance"
	"github.com/vnode-io/vnode/internal/k8sbin"
)

// ginkgoGrace is how long past its own timeout ginkgo may take to write
// its reports before the run kills it.
const ginkgoGrace = 5 * time.Minute

// ginkgoRun is one run of the suite by ginkgo.
type ginkgoRun struct {
	kit, controlPlane k8sbin.Set
	kubeconfig        string
	results           string
	repoList          string
	procs             int
	timeout           time.Duration
	focus, skip       string
}

// args are ginkgo's arguments: its own flags, e2e.test, and the suite's
// flags after "--".
func (g ginkgoRun) args() []string {
	args := []string{
		"-p", "--procs=" + strconv.Itoa(g.procs),
		"--label-filter=" + conformance.LabelFilter,
		"--timeout=" + g.timeout.String(),
		"--no-color", "--silence-skips",
	}
	if g.focus != "" {
		args = append(args, "--focus="+g.focus)
	}
	if g.skip != "" {
		args = append(args, "--skip="+g.skip)
	}
	return append(args, g.kit.Path(k8sbin.E2ETest), "--",
		"--kubeconfig="+g.kubeconfig,
		"--provider=skeleton",
		"--report-dir="+g.results,
		"--kube-test-repo-list="+g.repoList,
		"--kubectl-path="+g.controlPlane.Path(k8sbin.Kubectl),
		// The nodes are the cluster's: no SSH, no log collection.
		"--disable-log-dump",
	)
}

// run runs ginkgo, its output to out and to the log in the results,
// within the timeout and a grace period for the reports. A failed test
// makes ginkgo exit non-zero: the error says so, the report says which.
func (g ginkgoRun) run(ctx context.Context, out io.Writer) error {
	log, err := os.Create(filepath.Join(g.results, logFile))
	if err != nil {
		return fmt.Errorf("create the log: %w", err)
	}
	defer log.Close()
	ctx, cancel := context.WithTimeout(ctx, g.timeout+ginkgoGrace)
	defer cancel()
	args := g.args()
	cmd := exec.CommandContext(ctx, g.kit.Path(k8sbin.Ginkgo), args...)
	cmd.Dir = g.results
	cmd.Env = append(os.Environ(), "KUBECONFIG="+g.kubeconfig,
		"PATH="+g.controlPlane.Dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Stdout = io.MultiWriter(out, log)
	cmd.Stderr = cmd.Stdout
	// ginkgo's parallel processes are its children: end the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	line := "ginkgo " + strings.Join(quoteAll(args), " ")
	fmt.Fprintln(cmd.Stdout, line)
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("ginkgo did not end within %s: %w", g.timeout+ginkgoGrace, ctx.Err())
	case errors.As(err, &exit):
		return fmt.Errorf("ginkgo exited with %d", exit.ExitCode())
	}
	return err
}

// quoteAll quotes the arguments that a shell would split.
func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " &|'\"*?()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}
