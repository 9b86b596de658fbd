package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vnode-io/vnode/internal/conformance"
	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/k8sbin"
)

// Files of a results directory.
const (
	junitFile    = "junit_01.xml" // written by the suite's --report-dir
	runInfoFile  = "run.json"
	logFile      = "e2e.log"
	repoListFile = "repo-list.yaml"
	logsDir      = "logs" // the cluster's component logs, when the run started the cluster
)

type runFlags struct {
	vnode    string
	stateDir string
	results  string
	procs    int
	timeout  time.Duration
	focus    string
	skip     string
	subnet   string
}

func runCommand(ctx context.Context, args []string, out io.Writer) error {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&f.vnode, "vnode", "bin/vnode", "the vnode binary that starts the cluster")
	fs.StringVar(&f.stateDir, "state-dir", "", "run against the running cluster (vnode up) of this state directory, left running; empty: start a cluster on free ports and stop it at the end")
	fs.StringVar(&f.results, "results", defaultResults, "directory for the JUnit report, the log, run.json and the cluster's logs (a previous run's are removed first)")
	fs.IntVar(&f.procs, "procs", 4, "parallel ginkgo processes")
	fs.DurationVar(&f.timeout, "timeout", 45*time.Minute, "ginkgo's timeout for the whole suite")
	fs.StringVar(&f.focus, "focus", "", "run only the selected tests whose names match this regular expression")
	fs.StringVar(&f.skip, "skip", "", "leave out the selected tests whose names match this regular expression")
	fs.StringVar(&f.subnet, "subnet", "10.241.244.0/22", "the container groups' subnet of a cluster the run starts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("run takes no arguments, got %q", fs.Args())
	}
	if f.procs < 1 || f.timeout <= 0 {
		return errors.New("--procs and --timeout must be positive")
	}
	return runSuite(ctx, f, append([]string{"go run ./test/conformance run"}, quoteAll(args)...), out)
}

// runSuite builds what the suite needs, prepares a cluster, runs the suite
// and summarises its report. It fails when the suite could not run or a
// test failed for a reason not known to be inherent to a virtual node.
func runSuite(ctx context.Context, f runFlags, command []string, out io.Writer) error {
	began := time.Now()
	results, err := prepareResults(f.results)
	if err != nil {
		return err
	}
	info := conformance.RunInfo{Command: strings.Join(command, " "), Focus: f.focus, Machine: machine()}
	info.Commit, info.Subject = gitHead(ctx)

	b, err := ensureBinaries(ctx, out)
	if err != nil {
		return err
	}
	controlPlane, kit := b.controlPlane, b.kit

	c, err := openCluster(ctx, f, controlPlane, results, out)
	if err != nil {
		return err
	}
	defer c.close(out)
	list := conformance.RepoList(c.regs.Open)
	repoList := filepath.Join(results, repoListFile)
	if err := conformance.WriteRepoList(repoList, list); err != nil {
		return err
	}
	ib := &images.Builder{CacheDir: filepath.Join(b.cacheDir, "images")}
	if err := conformance.PushImages(ctx, out, ib, kit, c.regs.Open, list); err != nil {
		return err
	}
	if err := c.untaint(ctx, out); err != nil {
		return err
	}
	info.BuildTime = time.Since(began)

	info.Date = time.Now()
	g := ginkgoRun{kit: kit, controlPlane: controlPlane, kubeconfig: c.kubeconfig, results: results, repoList: repoList,
		procs: f.procs, timeout: f.timeout, focus: f.focus, skip: f.skip}
	suiteErr := g.run(ctx, out)
	info.SuiteTime = time.Since(info.Date)
	if err := info.Write(filepath.Join(results, runInfoFile)); err != nil {
		return err
	}
	report, err := conformance.ReadJUnit(filepath.Join(results, junitFile))
	if err != nil {
		return fmt.Errorf("the suite left no report (%v): %w", suiteErr, err)
	}
	return summarise(out, report, info, results)
}

// binaries are the control-plane and conformance kits of the cache.
type binaries struct {
	cacheDir          string
	controlPlane, kit k8sbin.Set
}

// ensureBinaries builds (once per pin) the control-plane binaries and the
// conformance kit from the pins of the source tree around the working
// directory.
func ensureBinaries(ctx context.Context, out io.Writer) (binaries, error) {
	var b binaries
	var err error
	if b.cacheDir, err = k8sbin.DefaultCacheDir(); err != nil {
		return b, err
	}
	wd, _ := os.Getwd()
	source := k8sbin.FindSource(wd)
	if source == "" {
		return b, errors.New("run in a vnode source tree: hack/controlplane holds the pins")
	}
	if b.controlPlane, err = (&k8sbin.Builder{SourceDir: source, CacheDir: b.cacheDir, Progress: out}).Ensure(ctx); err != nil {
		return b, err
	}
	kit := &k8sbin.Builder{SourceDir: source, CacheDir: b.cacheDir, Progress: out, Kit: k8sbin.Conformance()}
	if b.kit, err = kit.Ensure(ctx); err != nil {
		return b, err
	}
	fmt.Fprintf(out, "control-plane binaries in %s\nconformance binaries in %s\n", b.controlPlane.Dir, b.kit.Dir)
	return b, nil
}

// prepareResults creates dir, removes what a previous run left in it (and
// nothing else), and returns its absolute path.
func prepareResults(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("results directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("create the results directory: %w", err)
	}
	for _, name := range []string{junitFile, runInfoFile, logFile, repoListFile, logsDir} {
		if err := os.RemoveAll(filepath.Join(abs, name)); err != nil {
			return "", fmt.Errorf("remove a previous run's results: %w", err)
		}
	}
	return abs, nil
}

// summarise prints the figures and the failures of the report, and fails
// when a failure has no inherent reason.
func summarise(out io.Writer, r conformance.Report, info conformance.RunInfo, results string) error {
	fmt.Fprintf(out, "\nconformance: %d passed, %d failed, %d skipped, %d not run of %d tests (build %s, suite %s)\n",
		r.Count(conformance.StatePassed), r.Count(conformance.StateFailed), r.Count(conformance.StateSkipped),
		r.Count(conformance.StateNotRun), len(r.Results), info.BuildTime.Round(time.Second), info.SuiteTime.Round(time.Second))
	for _, s := range r.SuiteFailures {
		fmt.Fprintf(out, "suite node failed: %s: %s\n", s.Name, s.Detail)
	}
	reasons := conformance.KnownReasons()
	for _, res := range r.Failures() {
		note := res.Detail
		if reason, ok := conformance.ReasonFor(reasons, res.Name); ok {
			note = reason.Why
		}
		fmt.Fprintf(out, "FAILED %s\n       %s\n", res.Name, note)
	}
	fmt.Fprintf(out, "report %s, log %s; `go run ./test/conformance doc --results %s` writes docs/conformance.md\n",
		filepath.Join(results, junitFile), filepath.Join(results, logFile), results)
	if n := len(conformance.UnexpectedFailures(r, reasons)) + len(r.SuiteFailures); n > 0 {
		return fmt.Errorf("%d failures not known to be inherent to a virtual node", n)
	}
	return nil
}
