package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/pki"
	"github.com/vnode-io/vnode/internal/wire"
)

// The subscription-independent names the virtual node uses in the local
// cluster's container instances service.
const (
	instancesResourceGroup = "vnode"
	instancesLocation      = config.DefaultLocation
)

// instancesURL is where the service is reached. It listens on loopback: the
// virtual node of the local cluster runs on this host.
func instancesURL(cfg Config) string {
	return "https://127.0.0.1:" + strconv.Itoa(cfg.Ports.Instances)
}

// writeInstancesConfig writes the service's configuration and its tokens
// file, which binds the virtual node's token to the cluster's subscription.
func writeInstancesConfig(l layout, cfg Config) error {
	if _, _, err := writeInstancesTokens(l); err != nil {
		return err
	}
	c := config.Default()
	c.Listen = "127.0.0.1:" + strconv.Itoa(cfg.Ports.Instances)
	c.AdvertiseURL = instancesURL(cfg)
	c.DataDir = l.instancesData()
	c.TokensFile = l.instancesTokens()
	c.TLSCertFile = filepath.Join(l.pki(), "instances-serving.crt")
	c.TLSKeyFile = filepath.Join(l.pki(), "instances-serving.key")
	loc := config.DefaultLocationSpec(instancesLocation)
	// A virtual node bursts thousands of pods into its own service: the
	// local cluster lifts ACI's default quota and rate limits (100 groups,
	// 100 cores, 100 creates per 5 minutes), which suit a shared cloud.
	loc.Quota = config.Quota{StandardCores: 100000, ContainerGroups: 100000}
	c.Locations = []config.Location{loc}
	c.RateLimits = config.RateLimits{ReadsPerSecond: 1000, ReadBurst: 2000, WritesPerSecond: 1000, WriteBurst: 2000}
	c.Runtime = cfg.Runtime
	if cfg.Runtime == RuntimeContainerd {
		c.Containerd = config.Containerd{SandboxImage: registries(cfg, "").Images.Pause,
			Bridge: cfg.GroupBridge, Subnet: cfg.GroupSubnet}
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the instances configuration: %w", err)
	}
	// JSON is YAML: the service reads either.
	return pki.WriteFile(l.instancesConfig(), append(data, '\n'), 0o600)
}

// writeInstancesClient writes what an ARM client needs into instances/:
// endpoint, token, ca.crt, subscription, resource-group and location.
func writeInstancesClient(l layout, cfg Config) error {
	token, sub, err := instancesIdentity(l)
	if err != nil {
		return err
	}
	files := wire.ClientFiles{Endpoint: instancesURL(cfg), Token: token, CAFile: filepath.Join(l.pki(), "ca.crt"),
		Subscription: sub, ResourceGroup: instancesResourceGroup, Location: instancesLocation}
	return files.Write(l.instances())
}

// writeInstancesTokens writes the service's tokens file: the virtual
// node's token, made once, and the one subscription it may use, the
// cluster's. It is rewritten at every start, so a tokens file of the older
// format (a token alone on its line) takes the current one.
func writeInstancesTokens(l layout) (token, sub string, err error) {
	token, sub, err = instancesIdentity(l)
	if errors.Is(err, os.ErrNotExist) {
		token, err = randomString(32), nil
	}
	if err != nil {
		return "", "", err
	}
	content := "# Written by vnode up: the virtual node's token and the subscription it may use.\n" + token + " " + sub + "\n"
	if err := pki.WriteFile(l.instancesTokens(), []byte(content), 0o600); err != nil {
		return "", "", err
	}
	return token, sub, nil
}

// instancesIdentity returns the virtual node's token (from the tokens
// file; an error wrapping os.ErrNotExist when it has none yet) and the
// cluster's subscription id, made once.
func instancesIdentity(l layout) (token, sub string, err error) {
	sub, err = ensureSecretFile(filepath.Join(l.instances(), wire.SubscriptionFile), newSubscriptionID)
	if err != nil {
		return "", "", err
	}
	data, err := os.ReadFile(l.instancesTokens())
	if err != nil {
		return "", sub, fmt.Errorf("read the instances tokens: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			return f[0], sub, nil
		}
	}
	return "", sub, fmt.Errorf("the instances tokens file %s holds no token: %w", l.instancesTokens(), os.ErrNotExist)
}

// ensureSecretFile returns the first line of path, creating the file with
// generate's value (mode 0600) when it does not exist.
func ensureSecretFile(path string, generate func() string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	v := generate()
	if err := pki.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", err
	}
	return v, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSubscriptionID returns a random UUID, the shape of an Azure subscription id.
func newSubscriptionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// removeGroups ends the container groups that the stopped service's
// containerd still runs (`vnode instances remove-groups`): stopping the
// local cluster leaves no container behind.
func removeGroups(l layout, cfg Config) error {
	if cfg.VnodeBinary == "" || cfg.Runtime != RuntimeContainerd {
		return nil
	}
	if _, err := os.Stat(l.instancesConfig()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cfg.VnodeBinary, "instances", "remove-groups", "--config", l.instancesConfig()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("remove the container groups: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
