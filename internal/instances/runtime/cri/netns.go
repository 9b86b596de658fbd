package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandboxNetns finds the network namespace of a sandbox in the runtime's
// verbose status: the path in the sandbox's OCI spec, else that of its
// process.
func (r *Runtime) sandboxNetns(ctx context.Context, sandboxID string) (string, error) {
	resp, err := r.o.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandboxID, Verbose: true})
	if err != nil {
		return "", fmt.Errorf("status of sandbox %s: %w", sandboxID, err)
	}
	var info struct {
		Pid         int `json:"pid"`
		RuntimeSpec struct {
			Linux struct {
				Namespaces []struct {
					Type string `json:"type"`
					Path string `json:"path"`
				} `json:"namespaces"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		return "", fmt.Errorf("verbose status of sandbox %s: %w", sandboxID, err)
	}
	for _, ns := range info.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" && ns.Path != "" {
			return ns.Path, nil
		}
	}
	if info.Pid > 0 {
		return "/proc/" + strconv.Itoa(info.Pid) + "/ns/net", nil
	}
	return "", fmt.Errorf("sandbox %s has no network namespace", sandboxID)
}

// dialInNetns opens a connection to addr (an IP and port: nothing is
// resolved) from the network namespace at nsPath, so that it reaches what
// the group's containers reach and nothing that only the host does. The
// socket is made on an OS thread that enters the namespace for the dial
// and leaves it after; a thread that cannot leave it is never used again.
func dialInNetns(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, err
	}
	ns, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open the group's network namespace: %w", err)
	}
	defer ns.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		conn, restored, err := dialFromThread(ctx, ns, network, addr)
		if restored {
			goruntime.UnlockOSThread()
		} // else the thread ends with this goroutine
		done <- result{conn, err}
	}()
	res := <-done
	return res.conn, res.err
}

// dialFromThread dials from ns on the calling, locked thread and reports
// whether the thread is back in its own namespace.
func dialFromThread(ctx context.Context, ns *os.File, network, addr string) (conn net.Conn, restored bool, err error) {
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, true, fmt.Errorf("open the service's network namespace: %w", err)
	}
	defer own.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("enter the group's network namespace: %w", err)
	}
	var d net.Dialer
	conn, err = d.DialContext(ctx, network, addr)
	if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, false, errors.Join(err, fmt.Errorf("leave the group's network namespace: %w", serr))
	}
	return conn, true, err
}
