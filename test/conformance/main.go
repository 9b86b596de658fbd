// Command conformance runs the node conformance tests of Kubernetes' e2e
// suite against vnode's virtual node (`make conformance`), and turns a
// run's JUnit report into the results of docs/conformance.md:
//
//	go run ./test/conformance build
//	go run ./test/conformance run --vnode bin/vnode [--state-dir DIR] [--procs N] [--timeout 45m] [--focus REGEX] [--results DIR]
//	go run ./test/conformance doc [--results DIR] [--doc docs/conformance.md]
//
// See internal/conformance for what a run does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

const usage = "usage: conformance build|run|doc [flags] (-h for the flags)"

func dispatch(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], out)
	case "build":
		if len(args) > 1 {
			return fmt.Errorf("build takes no arguments")
		}
		_, err := ensureBinaries(ctx, out)
		return err
	case "doc":
		return docCommand(args[1:], out)
	}
	return fmt.Errorf("unknown command %q; %s", args[0], usage)
}
