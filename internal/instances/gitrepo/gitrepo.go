// Package gitrepo is the gitRepo volume: what its repository, revision and
// directory may be, and cloning it with git without letting any of them
// become an option, a local path or a path outside the volume.
//
// The service runs git as root on values a caller chose. A value that
// starts with '-' would be read as an option (for instance
// --pathspec-from-file=/etc/shadow, whose lines git would echo back), a
// local path or file:// URL would copy a repository from the host, and
// git's remote helpers (ext::) run commands. The checks here refuse all of
// them, git runs with only network transports allowed and without the
// host's git configuration, and git's own output never reaches an API
// caller: it goes to the service's log, and the caller gets a fixed
// description of what went wrong.
package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// Source is a gitRepo volume's source.
type Source struct {
	// Repository is the URL to clone: http, https, git or ssh, or ssh's
	// scp-like form user@host:path.
	Repository string
	// Revision, when set, is checked out after the clone.
	Revision string
	// Directory, when set, is where in the volume the clone goes; "." is
	// the volume itself.
	Directory string
}

// Limits on the lengths of a source's fields.
const (
	maxRepository = 2048
	maxRevision   = 255
	maxDirectory  = 255
)

// allowedProtocols are the transports git may use, for GIT_ALLOW_PROTOCOL
// and for the URL schemes CheckRepository accepts.
var allowedProtocols = []string{"http", "https", "git", "ssh"}

// CheckRepository refuses a repository that is not a network URL git may
// clone from: empty, too long, with spaces or control characters, starting
// with '-', a local path, file://, a remote helper (transport::address) or
// another scheme.
func CheckRepository(repo string) error {
	if err := checkText(repo, maxRepository); err != nil {
		return err
	}
	if strings.Contains(repo, "::") {
		return errors.New("git remote helpers (transport::address) are not allowed")
	}
	if scheme, rest, ok := strings.Cut(repo, "://"); ok {
		return checkURL(scheme, rest, repo)
	}
	return checkSCPLike(repo)
}

func checkURL(scheme, rest, repo string) error {
	if !slices.Contains(allowedProtocols, strings.ToLower(scheme)) {
		return fmt.Errorf("the scheme %q is not allowed; use one of %s", scheme, strings.Join(allowedProtocols, ", "))
	}
	u, err := url.Parse(repo)
	if err != nil || u.Host == "" || rest == "" {
		return errors.New("it is not a URL with a host")
	}
	if strings.HasPrefix(u.Host, "-") || strings.HasPrefix(u.User.Username(), "-") {
		return errors.New("its host or user starts with '-'")
	}
	return nil
}

// checkSCPLike accepts [user@]host:path, which git reads as ssh when no '/'
// comes before the first ':'. Anything else without a scheme is a local
// path.
func checkSCPLike(repo string) error {
	host, path, ok := strings.Cut(repo, ":")
	if !ok || host == "" || path == "" || strings.Contains(host, "/") {
		return errors.New("local paths are not allowed; give a http, https, git or ssh URL")
	}
	if _, h, ok := strings.Cut(host, "@"); ok {
		host = h
	}
	if host == "" || strings.HasPrefix(host, "-") {
		return errors.New("its host is empty or starts with '-'")
	}
	return nil
}

// CheckRevision refuses a revision that is too long, has spaces or control
// characters, or starts with '-'. An empty revision is the default branch.
func CheckRevision(rev string) error {
	if rev == "" {
		return nil
	}
	return checkText(rev, maxRevision)
}

// CheckDirectory refuses a directory that is absolute, has a ".." element,
// starts with '-', is too long or has control characters.
func CheckDirectory(dir string) error {
	if dir == "" {
		return nil
	}
	if err := checkText(dir, maxDirectory); err != nil {
		return err
	}
	if strings.HasPrefix(dir, "/") || slices.Contains(strings.Split(dir, "/"), "..") {
		return errors.New("it must be a relative path without '..'")
	}
	return nil
}

// checkText refuses an empty or too long value, one that starts with '-',
// and one with white space or control characters.
func checkText(s string, limit int) error {
	switch {
	case s == "":
		return errors.New("it is empty")
	case len(s) > limit:
		return fmt.Errorf("it is longer than %d characters", limit)
	case strings.HasPrefix(s, "-"):
		return errors.New("it starts with '-'")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return errors.New("it contains white space or control characters")
	}
	return nil
}

// Check checks every field of src.
func (src Source) Check() error {
	if err := CheckRepository(src.Repository); err != nil {
		return fmt.Errorf("repository: %w", err)
	}
	if err := CheckRevision(src.Revision); err != nil {
		return fmt.Errorf("revision: %w", err)
	}
	if err := CheckDirectory(src.Directory); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	return nil
}

// Error is a clone that failed: Message says what went wrong in words
// that never quote git, Output is what git printed, for the service's log
// only.
type Error struct {
	Message string
	Output  string
}

func (e *Error) Error() string { return e.Message }

// Clone clones src into its directory of volume, a directory that exists,
// and checks out the revision. The path from volume to the clone's
// directory must not pass through a symbolic link.
func Clone(ctx context.Context, volume string, src Source) error {
	if err := src.Check(); err != nil {
		return &Error{Message: err.Error()}
	}
	target, err := cloneTarget(volume, src.Directory)
	if err != nil {
		return err
	}
	if out, err := git(ctx, "clone", "--quiet", "--", src.Repository, target); err != nil {
		return &Error{Message: fmt.Sprintf("git clone of %s failed: %s", redact(src.Repository), explain(ctx, out, err)), Output: out}
	}
	if src.Revision == "" {
		return nil
	}
	// "--" makes the revision a commit, never a path; CheckRevision
	// made sure it is not an option.
	if out, err := git(ctx, "-C", target, "checkout", "--quiet", src.Revision, "--"); err != nil {
		return &Error{Message: fmt.Sprintf("git checkout of revision %s failed: %s", src.Revision, explain(ctx, out, err)), Output: out}
	}
	return nil
}

// cloneTarget is where in volume a clone into dir goes. Its parent
// directories are created; none of them, nor the target, may be a link.
func cloneTarget(volume, dir string) (string, error) {
	rel := filepath.Clean(dir)
	if rel == "" || rel == "." {
		return volume, nil
	}
	path := volume
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		path = filepath.Join(path, part)
		fi, err := os.Lstat(path)
		if errors.Is(err, os.ErrNotExist) {
			break // git creates the rest
		}
		if err != nil {
			return "", fmt.Errorf("gitRepo directory %s: %w", dir, err)
		}
		if !fi.IsDir() {
			return "", &Error{Message: fmt.Sprintf("the directory %s is not a directory in the volume", dir)}
		}
	}
	return filepath.Join(volume, rel), nil
}

// git runs git with the host's configuration ignored, prompts off and
// only network transports allowed, and returns what it printed.
func git(ctx context.Context, args ...string) (string, error) {
	args = append([]string{"-c", "protocol.file.allow=never", "-c", "advice.detachedHead=false"}, args...)
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=/bin/false",
		"GIT_SSH_COMMAND=ssh -o BatchMode=yes",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ALLOW_PROTOCOL="+strings.Join(allowedProtocols, ":"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// explanations map what git prints to words that say the same without
// quoting it.
var explanations = []struct{ needle, words string }{
	{"Could not resolve host", "the repository's host name does not resolve"},
	{"Connection refused", "the repository's host refused the connection"},
	{"Failed to connect", "the repository's host could not be reached"},
	{"timed out", "the connection to the repository's host timed out"},
	{"terminal prompts disabled", "the repository asks for credentials"},
	{"Authentication failed", "the repository refused the credentials"},
	{"not found", "the repository was not found"},
	{"does not appear to be a git repository", "the URL does not name a git repository"},
	{"invalid reference", "the revision does not exist in the repository"},
	{"did not match any", "the revision does not exist in the repository"},
	{"is not allowed", "the repository's transport is not allowed"},
}

// explain describes a failed git run.
func explain(ctx context.Context, out string, err error) string {
	if ctx.Err() != nil {
		return ctx.Err().Error()
	}
	for _, e := range explanations {
		if strings.Contains(out, e.needle) {
			return e.words
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Sprintf("git exited with code %d", exit.ExitCode())
	}
	return err.Error()
}

// redact hides a password in a repository URL.
func redact(repo string) string {
	if u, err := url.Parse(repo); err == nil && u.User != nil {
		return u.Redacted()
	}
	return repo
}
