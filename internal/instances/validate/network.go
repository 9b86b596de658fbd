package validate

import (
	"encoding/json"
	"fmt"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

// portKey identifies a port by number and upper-case protocol.
type portKey struct {
	port     int32
	protocol string
}

func (k portKey) String() string { return fmt.Sprintf("%d/%s", k.port, k.protocol) }

// protocol normalises a port protocol: absent is TCP; ok is false when it is
// neither TCP nor UDP.
func protocol(p *string) (string, bool) {
	if p == nil {
		return "TCP", true
	}
	u := strings.ToUpper(*p)
	return u, u == "TCP" || u == "UDP"
}

// portProblem says why a port number or protocol is invalid and which field
// it concerns; field is "" for a good port.
func portProblem(port *int32, proto *string) (field, problem string) {
	switch {
	case port == nil:
		return "port", "has no port number"
	case *port < 1 || *port > 65535:
		return "port", fmt.Sprintf("has port %d, which is not between 1 and 65535", *port)
	}
	if p, ok := protocol(proto); !ok {
		return "protocol", fmt.Sprintf("has protocol '%s', which is neither TCP nor UDP", p)
	}
	return "", ""
}

func checkContainerPorts(ports []*aci.ContainerPort, name, at string) *errdefs.Error {
	for i, p := range ports {
		if p == nil {
			p = &aci.ContainerPort{}
		}
		if field, problem := portProblem(p.Port, (*string)(p.Protocol)); field != "" {
			return errdefs.InvalidField(CodeInvalidContainerPorts, fmt.Sprintf("%s[%d].%s", at, i, field),
				"Port entry %d of container '%s' %s. A port must be between 1 and 65535 with protocol TCP or UDP.",
				i, name, problem)
		}
	}
	return nil
}

// exposedPorts are the ports the containers of a group expose.
func exposedPorts(cs []*aci.Container) map[portKey]bool {
	m := map[portKey]bool{}
	for _, ct := range cs {
		if ct == nil || ct.Properties == nil {
			continue
		}
		for _, p := range ct.Properties.Ports {
			if p == nil || p.Port == nil {
				continue
			}
			proto, _ := protocol((*string)(p.Protocol))
			m[portKey{*p.Port, proto}] = true
		}
	}
	return m
}

// ipAddress checks the group's IP address, whose ports must be exposed by
// the containers.
func (c *checker) ipAddress(ip *aci.IPAddress, cs []*aci.Container) *errdefs.Error {
	if ip == nil {
		return nil
	}
	return first(
		func() *errdefs.Error { return checkIPType(ip.Type) },
		func() *errdefs.Error { return c.ipPorts(ip.Ports, exposedPorts(cs)) },
		func() *errdefs.Error { return checkDNSLabel(ip.DNSNameLabel) },
	)
}

func checkIPType(t *aci.ContainerGroupIPAddressType) *errdefs.Error {
	const target = "properties.ipAddress.type"
	if t == nil {
		return errdefs.InvalidField(CodeInvalidIPAddressType, target,
			"The IP address has no type. Set properties.ipAddress.type to 'Public' or 'Private'.")
	}
	for _, v := range aci.PossibleContainerGroupIPAddressTypeValues() {
		if strings.EqualFold(string(*t), string(v)) {
			return nil
		}
	}
	return errdefs.InvalidField(CodeInvalidIPAddressType, target,
		"The IP address type '%s' is invalid. Use 'Public' or 'Private'.", string(*t))
}

func (c *checker) ipPorts(ports []*aci.Port, exposed map[portKey]bool) *errdefs.Error {
	const at = "properties.ipAddress.ports"
	if len(ports) == 0 {
		return errdefs.InvalidField(CodeMissingIPAddressPorts, at,
			"The ports in properties.ipAddress cannot be empty. List the container ports to expose, or remove ipAddress.")
	}
	if limit := c.lim.PortsPerIP; limit > 0 && len(ports) > limit {
		return errdefs.InvalidField(CodeTooManyIPAddressPorts, at,
			"The IP address has %d ports; at most %d are allowed. Remove ports.", len(ports), limit)
	}
	seen := map[portKey]bool{}
	for i, p := range ports {
		if p == nil {
			p = &aci.Port{}
		}
		pat := fmt.Sprintf("%s[%d]", at, i)
		if field, problem := portProblem(p.Port, (*string)(p.Protocol)); field != "" {
			return errdefs.InvalidField(CodeInvalidIPAddressPorts, pat+"."+field,
				"Port entry %d of the IP address %s. A port must be between 1 and 65535 with protocol TCP or UDP.",
				i, problem)
		}
		proto, _ := protocol((*string)(p.Protocol))
		k := portKey{*p.Port, proto}
		switch {
		case seen[k]:
			return errdefs.InvalidField(CodeDuplicateIPAddressPort, pat,
				"The IP address lists port %s more than once. List each port once.", k)
		case !exposed[k]:
			return errdefs.InvalidField(CodeIPAddressPortNotExposed, pat,
				"The IP address exposes port %s, but no container exposes it. Add the port to the ports of the container "+
					"that listens on it, or remove it from properties.ipAddress.ports.", k)
		}
		seen[k] = true
	}
	return nil
}

func checkDNSLabel(label *string) *errdefs.Error {
	if label == nil || *label == "" || dnsLabel.MatchString(*label) {
		return nil
	}
	return errdefs.InvalidField(CodeInvalidDNSNameLabel, "properties.ipAddress.dnsNameLabel",
		"The DNS name label '%s' is invalid. It can contain only lowercase letters, numbers and hyphens. "+
			"The first character must be a letter. The last character must be a letter or number. "+
			"The value must be between 5 and 63 characters long.", *label)
}

// maxGRPCService bounds the service name a grpc probe asks about.
const maxGRPCService = 1024

// StartupProbe returns the ACI probe of a startup probe (a vnode addition
// in the shape of ACI's probes) without its tcpSocket or grpc action: the
// same JSON read with the SDK's type.
func StartupProbe(p wire.Probe) *aci.ContainerProbe {
	out := &aci.ContainerProbe{}
	if data, err := json.Marshal(p); err == nil {
		_ = json.Unmarshal(data, out)
	}
	return out
}

// checkProbe checks a liveness, readiness or startup probe; tcp and grpc
// are its tcpSocket or grpc action, vnode additions, if it has one.
func checkProbe(p *aci.ContainerProbe, tcp *wire.TCPSocket, grpc *wire.GRPC, kind, name, at string) *errdefs.Error {
	if p == nil {
		return nil
	}
	bad := func(field, format string, args ...any) *errdefs.Error {
		target := at
		if field != "" {
			target += "." + field
		}
		return errdefs.InvalidField(CodeInvalidContainerProbe, target,
			"The %s probe of container '%s' is invalid: %s.", kind, name, fmt.Sprintf(format, args...))
	}
	actions := 0
	for _, set := range []bool{p.Exec != nil, p.HTTPGet != nil, tcp != nil, grpc != nil} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		return bad("", "set exactly one of exec, httpGet, tcpSocket and grpc")
	}
	if tcp != nil && (tcp.Port < 1 || tcp.Port > 65535) {
		return bad("tcpSocket.port", "tcpSocket port %d is not between 1 and 65535", tcp.Port)
	}
	if grpc != nil && (grpc.Port < 1 || grpc.Port > 65535) {
		return bad("grpc.port", "grpc port %d is not between 1 and 65535", grpc.Port)
	}
	if grpc != nil && len(grpc.Service) > maxGRPCService {
		return bad("grpc.service", "the grpc service name is longer than %d characters", maxGRPCService)
	}
	if p.Exec != nil && strings.TrimSpace(strings.Join(strs(p.Exec.Command), "")) == "" {
		return bad("exec.command", "exec.command is empty; set the command to run")
	}
	if p.HTTPGet != nil {
		if field, problem := httpGetProblem(p.HTTPGet); field != "" {
			return bad("httpGet."+field, "httpGet %s", problem)
		}
	}
	for _, f := range []struct {
		field string
		v     *int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds}, {"periodSeconds", p.PeriodSeconds},
		{"failureThreshold", p.FailureThreshold}, {"successThreshold", p.SuccessThreshold},
		{"timeoutSeconds", p.TimeoutSeconds},
	} {
		if f.v != nil && *f.v < 0 {
			return bad(f.field, "%s is %d; it may not be negative", f.field, *f.v)
		}
	}
	return nil
}

func httpGetProblem(h *aci.ContainerHTTPGet) (field, problem string) {
	switch {
	case h.Port == nil:
		return "port", "has no port; set the port to probe"
	case *h.Port < 1 || *h.Port > 65535:
		return "port", fmt.Sprintf("port %d is not between 1 and 65535", *h.Port)
	case h.Scheme != nil && !strings.EqualFold(string(*h.Scheme), "http") && !strings.EqualFold(string(*h.Scheme), "https"):
		return "scheme", fmt.Sprintf("scheme '%s' is neither http nor https", string(*h.Scheme))
	}
	return "", ""
}

func strs(ss []*string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, str(s))
	}
	return out
}

// checkRegistryCredentials checks the image registry credentials: each has a
// server and a username or identity, and servers are distinct.
func checkRegistryCredentials(creds []*aci.ImageRegistryCredential) *errdefs.Error {
	seen := map[string]bool{}
	for i, rc := range creds {
		at := fmt.Sprintf("properties.imageRegistryCredentials[%d]", i)
		if rc == nil {
			rc = &aci.ImageRegistryCredential{}
		}
		server := strings.TrimSpace(str(rc.Server))
		switch {
		case server == "":
			return errdefs.InvalidField(CodeInvalidImageRegistryCredential, at+".server",
				"Image registry credential %d has no server. Set the registry's login server (e.g. 'myregistry.azurecr.io').", i)
		case strings.TrimSpace(str(rc.Username)) == "" && strings.TrimSpace(str(rc.Identity)) == "":
			return errdefs.InvalidField(CodeInvalidImageRegistryCredential, at+".username",
				"The image registry credential for '%s' has neither a username nor an identity. Set username and password, "+
					"or identity.", server)
		case seen[strings.ToLower(server)]:
			return errdefs.InvalidField(CodeDuplicateImageRegistryServer, at+".server",
				"There is more than one image registry credential for '%s'. Keep one credential per server.", server)
		}
		seen[strings.ToLower(server)] = true
	}
	return nil
}
