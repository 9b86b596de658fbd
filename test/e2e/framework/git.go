package framework

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GitRepo is a git repository served over git's plain ("dumb") HTTP
// protocol on loopback, as gitRepo volumes clone one from a server.
type GitRepo struct {
	// URL is the repository's http://127.0.0.1:PORT/repo.git address.
	URL string
	// Commits are the hashes of its commits on main, oldest first.
	Commits []string
}

// ServeGitRepo commits each of files, one commit a file in the order
// given as "name=content", to the branch main of a new repository, and
// serves it until the test ends.
func ServeGitRepo(t testing.TB, files ...string) GitRepo {
	t.Helper()
	dir := t.TempDir()
	work, bare := filepath.Join(dir, "work"), filepath.Join(dir, "repo.git")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main", work)
	var repo GitRepo
	for _, f := range files {
		name, content, _ := strings.Cut(f, "=")
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		git("-C", work, "add", name)
		git("-C", work, "-c", "user.email=t@example.test", "-c", "user.name=t", "commit", "-q", "-m", "add "+name)
		repo.Commits = append(repo.Commits, git("-C", work, "rev-parse", "HEAD"))
	}
	git("clone", "-q", "--bare", work, bare)
	git("-C", bare, "update-server-info")
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	repo.URL = srv.URL + "/repo.git"
	return repo
}
