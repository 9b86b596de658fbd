package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

func TestCheckRepository(t *testing.T) {
	for _, ok := range []string{"https://example.com/r.git", "http://127.0.0.1:8080/r.git", "git://host/r",
		"ssh://git@host/r.git", "git@github.com:org/r.git", "host:r.git", "HTTPS://example.com/r"} {
		if err := CheckRepository(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-u", "--upload-pack=touch /tmp/x", "/etc", "./r", "../r", "r", "file:///etc",
		"FILE:///etc", "ext::sh -c touch% /tmp/x", "fd::3", "ftp://h/r", "https://-oProxy/x", "ssh://-oProxyCommand=x/y",
		"ssh://-u@h/r", "-oProxyCommand=x:y", "a b:c", "h:\x00", "https:///r", "dir/x:y", "@:r", strings.Repeat("h", 3000) + ":r"} {
		if err := CheckRepository(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckRevisionAndDirectory(t *testing.T) {
	for _, ok := range []string{"", "main", "v1.0", "0123abcd", "release/1.2", "HEAD~1"} {
		if err := CheckRevision(ok); err != nil {
			t.Errorf("revision %q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"-", "--pathspec-from-file=/etc/shadow", "--orphan", "a b", "x\n", strings.Repeat("r", 300)} {
		if err := CheckRevision(bad); err == nil {
			t.Errorf("revision %q accepted", bad)
		}
	}
	for _, ok := range []string{"", ".", "code", "a/b", "a-b"} {
		if err := CheckDirectory(ok); err != nil {
			t.Errorf("directory %q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"-x", "--template=/tmp", "/abs", "a/../..", "..", "a\tb"} {
		if err := CheckDirectory(bad); err == nil {
			t.Errorf("directory %q accepted", bad)
		}
	}
}

func requireGit(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/git"); err != nil {
		t.Skip("git is not installed")
	}
}

func TestClone(t *testing.T) {
	requireGit(t)
	repo := framework.ServeGitRepo(t, "README=one\n", "README=two\n")
	ctx := context.Background()

	vol := t.TempDir()
	if err := Clone(ctx, vol, Source{Repository: repo.URL, Directory: "code"}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(vol, "code", "README")); err != nil || string(data) != "two\n" {
		t.Errorf("clone of the default branch: %q, %v", data, err)
	}

	vol = t.TempDir()
	if err := Clone(ctx, vol, Source{Repository: repo.URL, Revision: repo.Commits[0]}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(vol, "README")); err != nil || string(data) != "one\n" {
		t.Errorf("clone at the first commit: %q, %v", data, err)
	}

	var gerr *Error
	err := Clone(ctx, t.TempDir(), Source{Repository: repo.URL, Revision: "nosuch"})
	if !errors.As(err, &gerr) || gerr.Message != "git checkout of revision nosuch failed: the revision does not exist in the repository" {
		t.Errorf("an unknown revision: %v", err)
	}
	if !strings.Contains(gerr.Output, "nosuch") {
		t.Errorf("git's output is not kept for the log: %q", gerr.Output)
	}
	err = Clone(ctx, t.TempDir(), Source{Repository: repo.URL + "/missing"})
	if !errors.As(err, &gerr) || strings.Contains(gerr.Message, "fatal") {
		t.Errorf("an unknown repository: %v", err)
	}
}

// Nothing a caller chose becomes an option of git or a path on the host,
// and git's output, which could quote a host file, stays out of the
// error's message.
func TestCloneRefusesOptionsAndHostPaths(t *testing.T) {
	requireGit(t)
	ctx := context.Background()
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:hash-of-the-host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := framework.ServeGitRepo(t, "README=x\n")
	host := t.TempDir() // a repository on the host
	if out, err := git(ctx, "init", "-q", host); err != nil {
		t.Fatal(out)
	}
	for _, src := range []Source{
		{Repository: repo.URL, Revision: "--pathspec-from-file=" + secret},
		{Repository: "--upload-pack=touch " + secret + ".pwned"},
		{Repository: host},
		{Repository: "file://" + host},
		{Repository: "ext::sh -c touch% " + secret + ".pwned"},
		{Repository: repo.URL, Directory: "--template=" + host},
	} {
		err := Clone(ctx, t.TempDir(), src)
		if err == nil {
			t.Errorf("%+v cloned", src)
			continue
		}
		if strings.Contains(err.Error(), "hash-of-the-host") {
			t.Errorf("%+v: the error quotes a host file: %v", src, err)
		}
	}
	if _, err := os.Stat(secret + ".pwned"); err == nil {
		t.Error("a repository ran a command")
	}
}

// A clone does not go through a link planted in the volume.
func TestCloneRefusesLinks(t *testing.T) {
	requireGit(t)
	repo := framework.ServeGitRepo(t, "README=x\n")
	vol, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(vol, "code")); err != nil {
		t.Fatal(err)
	}
	if err := Clone(context.Background(), vol, Source{Repository: repo.URL, Directory: "code/sub"}); err == nil {
		t.Error("cloned through a link")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("the clone wrote outside the volume: %v", entries)
	}
}
