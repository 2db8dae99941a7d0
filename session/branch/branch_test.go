package branch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// git runs the real git binary to build fixture repositories.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
		"GIT_ALLOW_PROTOCOL=file",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func newRepo(t *testing.T, branch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo with space")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	runGit(t, dir, "init", "-q", "-b", branch)
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	runGit(t, dir, "add", ".")
	runGit(t, dir, "commit", "-q", "-m", "init")
	return dir
}

func TestDetect(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to build fixture repositories: run `make deps`")
	}
	ctx := context.Background()

	t.Run("branch from a subfolder", func(t *testing.T) {
		dir := newRepo(t, "PROJ-123-login")
		sub := filepath.Join(dir, "a", "b")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := Detect(ctx, sub, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := Info{Branch: "PROJ-123-login", Commit: runGit(t, dir, "rev-parse", "HEAD"), Root: dir, Source: SourceGit}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})

	t.Run("branch with slashes", func(t *testing.T) {
		dir := newRepo(t, "feature/ABC-9/x")
		got, err := Detect(ctx, dir, Options{})
		if err != nil || got.Branch != "feature/ABC-9/x" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})

	t.Run("detached head", func(t *testing.T) {
		dir := newRepo(t, "main")
		commit := runGit(t, dir, "rev-parse", "HEAD")
		runGit(t, dir, "checkout", "-q", "--detach")
		got, err := Detect(ctx, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Branch != "" || !got.Detached || got.Commit != commit {
			t.Fatalf("got %+v, want detached at %s", got, commit)
		}
	})

	t.Run("linked worktree", func(t *testing.T) {
		dir := newRepo(t, "main")
		wt := filepath.Join(t.TempDir(), "wt")
		runGit(t, dir, "worktree", "add", "-q", "-b", "OPS-7-worktree", wt)
		got, err := Detect(ctx, wt, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Branch != "OPS-7-worktree" || got.Root != wt {
			t.Fatalf("got %+v, want branch OPS-7-worktree at %s", got, wt)
		}
		main, err := Detect(ctx, dir, Options{})
		if err != nil || main.Branch != "main" {
			t.Fatalf("main work tree: %+v, %v", main, err)
		}
	})

	t.Run("submodule", func(t *testing.T) {
		lib := newRepo(t, "lib-branch")
		top := newRepo(t, "top-branch")
		runGit(t, top, "-c", "protocol.file.allow=always", "submodule", "add", "-q", lib, "lib")
		sub := filepath.Join(top, "lib")
		got, err := Detect(ctx, sub, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// git leaves a fresh submodule checkout on its default branch.
		if want := runGit(t, sub, "rev-parse", "HEAD"); got.Commit != want {
			t.Fatalf("submodule commit %q, want %q (%+v)", got.Commit, want, got)
		}
		if got.Root != sub {
			t.Fatalf("root %q, want %q", got.Root, sub)
		}
		topInfo, err := Detect(ctx, top, Options{})
		if err != nil || topInfo.Branch != "top-branch" {
			t.Fatalf("top: %+v, %v", topInfo, err)
		}
	})

	t.Run("unborn branch", func(t *testing.T) {
		dir := t.TempDir()
		runGit(t, dir, "init", "-q", "-b", "fresh")
		got, err := Detect(ctx, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Branch != "fresh" || got.Commit != "" || got.Detached {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("no repository", func(t *testing.T) {
		got, err := Detect(ctx, t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got != (Info{Source: SourceNone}) {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("MIRRORD_BRANCH_NAME wins", func(t *testing.T) {
		dir := newRepo(t, "main")
		env := func(k string) (string, bool) {
			if k == "MIRRORD_BRANCH_NAME" {
				return "override-1", true
			}
			return "", false
		}
		got, err := Detect(ctx, dir, Options{LookupEnv: env})
		if err != nil || got != (Info{Branch: "override-1", Source: SourceEnv}) {
			t.Fatalf("got %+v, %v", got, err)
		}
		empty := func(string) (string, bool) { return "", true }
		got, err = Detect(ctx, dir, Options{LookupEnv: empty})
		if err != nil || got.Branch != "main" {
			t.Fatalf("empty MIRRORD_BRANCH_NAME must not win: %+v, %v", got, err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Detect(c, t.TempDir(), Options{}); err == nil {
			t.Fatal("want context error")
		}
	})
}
