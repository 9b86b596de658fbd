package validate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

// maxSeccompProfile bounds a seccomp profile's decoded JSON.
const maxSeccompProfile = 64 << 10

// securityContext checks a (init) container's security context against
// the location's: privileged containers are refused, capabilities may be
// added only from the location's allowed set, and a seccomp profile must
// be a base64-encoded JSON object.
func (c *checker) securityContext(sc *aci.SecurityContextDefinition, name, at string) *errdefs.Error {
	if sc == nil {
		return nil
	}
	if sc.Privileged != nil && *sc.Privileged {
		return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at+".privileged",
			"The container '%s' asks to be privileged, which this service does not allow. Add the capabilities it needs instead.", name)
	}
	if caps := sc.Capabilities; caps != nil {
		allowed := c.loc.Security.Capabilities()
		for i, p := range caps.Add {
			capName := config.CapabilityName(str(p))
			target := fmt.Sprintf("%s.capabilities.add[%d]", at, i)
			if !config.IsCapabilityName(capName) {
				return badCapability(str(p), name, target)
			}
			if !slices.Contains(allowed, capName) {
				return errdefs.InvalidField(CodeInvalidContainerSecurityContext, target,
					"The container '%s' adds the capability %s, which location '%s' does not allow. Allowed: %s.",
					name, capName, c.loc.Name, strings.Join(allowed, ", "))
			}
		}
		for i, p := range caps.Drop {
			if capName := config.CapabilityName(str(p)); !config.IsCapabilityName(capName) {
				return badCapability(str(p), name, fmt.Sprintf("%s.capabilities.drop[%d]", at, i))
			}
		}
	}
	if sc.SeccompProfile != nil {
		return checkSeccompProfile(*sc.SeccompProfile, name, at+".seccompProfile")
	}
	return nil
}

func badCapability(capName, name, at string) *errdefs.Error {
	return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at,
		"The capability '%s' of container '%s' is not a Linux capability name (e.g. NET_BIND_SERVICE).", capName, name)
}

// checkSeccompProfile checks that profile is base64 of a JSON object of
// at most maxSeccompProfile bytes, as ACI's seccompProfile is.
func checkSeccompProfile(profile, name, at string) *errdefs.Error {
	if base64.StdEncoding.DecodedLen(len(profile)) > maxSeccompProfile {
		return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at,
			"The seccomp profile of container '%s' is larger than %d bytes.", name, maxSeccompProfile)
	}
	data, err := base64.StdEncoding.DecodeString(profile)
	var obj map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(data, &obj)
	}
	if err != nil {
		return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at,
			"The seccomp profile of container '%s' is not base64-encoded JSON of a seccomp profile: %v.", name, err)
	}
	if _, ok := obj["defaultAction"]; !ok {
		return errdefs.InvalidField(CodeInvalidContainerSecurityContext, at,
			"The seccomp profile of container '%s' has no defaultAction.", name)
	}
	return nil
}
