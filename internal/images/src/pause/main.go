// Command pause is the first process of a vnode pod sandbox.
//
// It holds the sandbox's namespaces open by doing nothing: once its signal
// handlers are in place it says so on standard error, sleeps until SIGTERM or
// SIGINT, and then exits 0. Because it runs as PID 1 of the
// sandbox's PID namespace, orphaned processes are re-parented to it, so it
// reaps every child that exits (a wait4 loop on SIGCHLD) to keep zombies
// from piling up. It uses the standard library only and is built as a static
// binary by vnode's internal/images package.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	fmt.Fprintln(os.Stderr, "pause: waiting for SIGTERM")
	reap() // children inherited before the handler was installed
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: %v, exiting\n", sig)
		os.Exit(0)
	}
}

// reap collects every exited child without blocking. Several exits may be
// signalled by a single SIGCHLD, so it loops until none is left.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
