package cri

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// etcHosts is where containers find the group's hosts file.
const etcHosts = "/etc/hosts"

// hostsPath is the group's hosts file, bind-mounted at /etc/hosts.
func (r *Runtime) hostsPath(id string) string { return filepath.Join(r.groupDir(id), "hosts") }

// hostsFile renders a group's /etc/hosts as the kubelet renders a pod's
// (managedHostsFileContent): its header, the loopback entries, the group's
// IP with its names (none without an IP), then the host aliases after a
// comment, one line per IP.
func hostsFile(spec runtime.GroupSpec, ip string) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if ip != "" {
		fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(groupNames(spec), "\t"))
	}
	if len(spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.Bytes()
}

// groupNames are the names /etc/hosts gives the group's IP: the FQDN, if
// any, then the short hostname, as the kubelet writes "<fqdn>\t<hostname>"
// for a pod with a subdomain. A hostname with dots (a pod's
// setHostnameAsFQDN) counts as the FQDN when none is given; its first label
// is the short name.
func groupNames(spec runtime.GroupSpec) []string {
	host := spec.HostName()
	short, _, dotted := strings.Cut(host, ".")
	fqdn := spec.FQDN
	if fqdn == "" && dotted {
		fqdn = host
	}
	if fqdn == "" || fqdn == short {
		return []string{short}
	}
	return []string{fqdn, short}
}

// writeHosts writes the group's hosts file (mode 0644) for its IP.
func (r *Runtime) writeHosts(spec runtime.GroupSpec, ip string) error {
	p := r.hostsPath(spec.ID)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, hostsFile(spec, ip), 0o644); err != nil {
		return fmt.Errorf("write the hosts file of %s: %w", spec.ID, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("write the hosts file of %s: %w", spec.ID, err)
	}
	return nil
}

// ensureHosts writes the hosts file of a group found running that lacks
// one (deployed before the runtime wrote them): CRI would create a
// directory in place of a missing bind-mount source.
func (r *Runtime) ensureHosts(spec runtime.GroupSpec, ip string) error {
	_, err := os.Stat(r.hostsPath(spec.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return r.writeHosts(spec, ip)
	}
	return err
}

// mountsHosts reports whether a container mounts a volume at /etc/hosts,
// which then takes the place of the group's hosts file.
func mountsHosts(c runtime.ContainerSpec) bool {
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == etcHosts {
			return true
		}
	}
	return false
}
