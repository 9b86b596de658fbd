#!/usr/bin/env bash
# Installs the Debian packages vnode needs, now and for the container runtime
# and registry that later components use. Safe to run repeatedly: it only
# calls apt-get when a package is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  ca-certificates                # TLS roots for the Go module proxy
  git                            # gitRepo volumes, go builds of VCS modules
  iproute2                       # ip, for bridges and network namespaces
  iptables                       # kube-proxy and CNI port mappings
  kmod                           # modprobe br_netfilter, for Services between groups on one bridge
  containerd                     # the CRI runtime behind the instances service
  runc                           # containerd's OCI runtime (crun fails here)
  containernetworking-plugins    # bridge, host-local, portmap in /usr/lib/cni
  docker-registry                # the local image registry
  apache2-utils                  # htpasswd, for the registry's basic auth
  busybox-static                 # the shell image the project builds for tests and demos
  procps                         # ps and pgrep, used by tests to find leftovers
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# --no-install-recommends keeps docker.io and friends out; policy-rc.d-less
# containers without an init system simply skip starting the services.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
