package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine describes this host: its OS, kernel, CPUs and memory.
func machine() string {
	osName := "Linux"
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, kernel %s, %d CPUs, %s memory, %s", osName, strings.TrimSpace(string(kernel)),
		runtime.NumCPU(), memory(), runtime.Version())
}

// memory is MemTotal of /proc/meminfo in GiB.
func memory() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(fields[1], 64)
			if err == nil {
				return fmt.Sprintf("%.0f GiB", kb/1024/1024)
			}
		}
	}
	return "unknown"
}

// gitHead returns the checked-out commit (with "-dirty" when the tree has
// changes) and its subject.
func gitHead(ctx context.Context) (commit, subject string) {
	git := func(args ...string) string {
		out, err := exec.CommandContext(ctx, "git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	commit = git("rev-parse", "HEAD")
	if commit == "" {
		return "unknown", ""
	}
	if git("status", "--porcelain", "--untracked-files=no") != "" {
		commit += "-dirty"
	}
	return commit, git("log", "-1", "--format=%s")
}
