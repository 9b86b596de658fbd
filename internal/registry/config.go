package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"sigs.k8s.io/yaml"
)

// fileConfig is the subset of distribution's configuration file that we
// write (https://distribution.github.io/distribution/about/configuration/).
type fileConfig struct {
	Version string        `json:"version"`
	Log     logConfig     `json:"log"`
	Storage storageConfig `json:"storage"`
	HTTP    httpConfig    `json:"http"`
	Auth    *authConfig   `json:"auth,omitempty"`
	Health  healthConfig  `json:"health"`
}

type logConfig struct {
	Level     string            `json:"level"`
	Formatter string            `json:"formatter"`
	Fields    map[string]string `json:"fields"`
}

type storageConfig struct {
	Filesystem struct {
		RootDirectory string `json:"rootdirectory"`
	} `json:"filesystem"`
	Delete struct {
		Enabled bool `json:"enabled"`
	} `json:"delete"`
}

type httpConfig struct {
	Addr    string              `json:"addr"`
	Secret  string              `json:"secret"`
	Headers map[string][]string `json:"headers"`
}

type authConfig struct {
	HTPasswd struct {
		Realm string `json:"realm"`
		Path  string `json:"path"`
	} `json:"htpasswd"`
}

type healthConfig struct {
	StorageDriver struct {
		Enabled   bool   `json:"enabled"`
		Interval  string `json:"interval"`
		Threshold int    `json:"threshold"`
	} `json:"storagedriver"`
}

// realm is the basic-auth realm the registry announces.
const realm = "vnode"

// WriteFiles checks cfg, creates cfg.Dir and its data directory and writes
// the registry's config.yml and, with credentials, its htpasswd file: what
// a supervisor that runs the registry itself (with Args) needs first.
func WriteFiles(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := os.MkdirAll(cfg.dataDir(), 0o755); err != nil {
		return fmt.Errorf("create storage directory: %w", err)
	}
	if cfg.auth() {
		if err := writeHTPasswd(ctx, cfg.htpasswdPath(), cfg.Username, cfg.Password); err != nil {
			return err
		}
	}
	fc, err := newFileConfig(cfg)
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(fc)
	if err != nil {
		return fmt.Errorf("encode config.yml: %w", err)
	}
	// The file holds the HTTP secret: readable by its owner only.
	if err := os.WriteFile(cfg.configPath(), data, 0o600); err != nil {
		return fmt.Errorf("write config.yml: %w", err)
	}
	return nil
}

// newFileConfig returns the registry configuration for cfg, with a fresh
// random HTTP secret (it signs upload state between requests; one
// registry instance needs no stable value).
func newFileConfig(cfg Config) (fileConfig, error) {
	secret, err := randomHex(32)
	if err != nil {
		return fileConfig{}, err
	}
	fc := fileConfig{
		Version: "0.1",
		Log:     logConfig{Level: "info", Formatter: "text", Fields: map[string]string{"service": "registry"}},
		HTTP: httpConfig{
			Addr:    cfg.Addr,
			Secret:  secret,
			Headers: map[string][]string{"X-Content-Type-Options": {"nosniff"}},
		},
	}
	fc.Storage.Filesystem.RootDirectory = cfg.dataDir()
	fc.Storage.Delete.Enabled = true
	// The storage driver health check turns /v2/ into 503 when the
	// storage directory becomes unusable, instead of failing pushes late.
	fc.Health.StorageDriver.Enabled = true
	fc.Health.StorageDriver.Interval = "10s"
	fc.Health.StorageDriver.Threshold = 3
	if cfg.auth() {
		fc.Auth = &authConfig{}
		fc.Auth.HTPasswd.Realm = realm
		fc.Auth.HTPasswd.Path = cfg.htpasswdPath()
	}
	return fc, nil
}

// HTPasswdBinary creates the htpasswd file (Debian package apache2-utils).
const HTPasswdBinary = "htpasswd"

// writeHTPasswd writes an htpasswd file with one bcrypt entry, the only
// hash distribution accepts. The password reaches htpasswd on its
// standard input, not its command line.
func writeHTPasswd(ctx context.Context, path, user, password string) error {
	cmd := exec.CommandContext(ctx, HTPasswdBinary, "-n", "-i", "-B", user)
	cmd.Stdin = strings.NewReader(password)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("hash registry password with %s: %w: %s", HTPasswdBinary, err, bytes.TrimSpace(stderr.Bytes()))
	}
	entry := strings.TrimSpace(string(out))
	if !strings.HasPrefix(entry, user+":$2") {
		return fmt.Errorf("hash registry password with %s: unexpected output %q", HTPasswdBinary, entry)
	}
	if err := os.WriteFile(path, []byte(entry+"\n"), 0o600); err != nil {
		return fmt.Errorf("write htpasswd: %w", err)
	}
	return nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate http secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}
