package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ReadPid returns the pid in a pid file, or 0 when there is none.
func ReadPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s holds %q, not a pid", path, data)
	}
	return pid, nil
}

// Running reports whether pid is a live process whose command line
// contains marker. The marker guards against a pid that was reused by an
// unrelated process after ours ended.
func Running(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && isZombie(stat) {
		return false
	}
	return marker == "" || bytes.Contains(cmdline, []byte(marker))
}

// isZombie reads the state field of /proc/PID/stat, which follows the
// command name in parentheses.
func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// Terminate stops a process that is not our child (found through a pid
// file): SIGTERM to its group, then SIGKILL after grace. The marker is
// checked before signalling, so a reused pid is left alone; after that
// Terminate waits for the process itself to be gone (or a zombie), since
// a process being torn down shows an empty command line while it still
// holds its sockets.
func Terminate(pid int, marker string, grace time.Duration) {
	if !Running(pid, marker) {
		return
	}
	signalPidOrGroup(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !Running(pid, "") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	signalPidOrGroup(pid, syscall.SIGKILL)
	for i := 0; i < 100 && Running(pid, ""); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

func signalPidOrGroup(pid int, sig syscall.Signal) {
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		_ = syscall.Kill(-pid, sig)
		return
	}
	_ = syscall.Kill(pid, sig)
}
