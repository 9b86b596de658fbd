package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// DefaultBusybox is where Debian's busybox-static package installs busybox.
const DefaultBusybox = "/bin/busybox"

// busyboxPackage is the Debian package that provides DefaultBusybox.
const busyboxPackage = "busybox-static"

// ErrNoBusybox reports that the host has no busybox binary to put in an image.
var ErrNoBusybox = errors.New("busybox not found (install the Debian package " + busyboxPackage + ", as hack/install-prereqs.sh does)")

// etcPasswd and etcGroup know root and nobody only.
const (
	etcPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	etcGroup  = "root:x:0:\nnogroup:x:65534:\n"
)

// busyboxPath is Busybox, or DefaultBusybox.
func (b *Builder) busyboxPath() string {
	if b.Busybox != "" {
		return b.Busybox
	}
	return DefaultBusybox
}

// haveBusybox tells whether the host's busybox exists.
func (b *Builder) haveBusybox() bool {
	_, err := os.Stat(b.busyboxPath())
	return err == nil
}

// baseEntries is the shell userland: busybox at /bin/busybox with a symbolic
// link in /bin for every applet it lists, /etc/passwd, /etc/group, /tmp and
// /root.
func (b *Builder) baseEntries(ctx context.Context) ([]entry, error) {
	bin := b.busyboxPath()
	bb, err := hostFile("bin/busybox", 0o755, bin)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("images: %s: %w", bin, ErrNoBusybox)
	}
	if err != nil {
		return nil, fmt.Errorf("images: busybox: %w", err)
	}
	applets, err := busyboxApplets(ctx, bin)
	if err != nil {
		return nil, err
	}
	entries := []entry{
		bb,
		file("etc/passwd", 0o644, []byte(etcPasswd)),
		file("etc/group", 0o644, []byte(etcGroup)),
		dir("tmp", 0o1777),
		dir("root", 0o700),
	}
	for _, a := range applets {
		entries = append(entries, symlink("bin/"+a, "busybox"))
	}
	return entries, nil
}

// busyboxApplets runs `busybox --list` and returns the applet names, sorted,
// without busybox itself.
func busyboxApplets(ctx context.Context, bin string) ([]string, error) {
	cmd := exec.CommandContext(ctx, bin, "--list")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("images: %s --list: %w: %s", bin, err, tail(stderr.Bytes()))
	}
	seen := map[string]bool{"busybox": true}
	var applets []string
	for _, name := range strings.Fields(string(out)) {
		if seen[name] || strings.Contains(name, "/") || name == "." || name == ".." {
			continue
		}
		seen[name] = true
		applets = append(applets, name)
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("images: %s --list: no applets", bin)
	}
	sort.Strings(applets)
	return applets, nil
}
