// Package branch finds the git branch of a folder, for the `git_branch`
// template variable, the editor's `mirrord/gitBranch` request, session info
// and Jira reporting.
//
// It reads the repository with go-git, so no git binary is needed and paths
// with spaces or shell metacharacters are safe. Linked worktrees report their
// own branch; submodules report the submodule's HEAD; a detached HEAD has no
// branch but its commit is known. MIRRORD_BRANCH_NAME, when non-empty, wins
// over the repository, as in mirrord.
package branch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Source says where the branch came from.
type Source string

const (
	SourceEnv  Source = "env"  // MIRRORD_BRANCH_NAME
	SourceGit  Source = "git"  // the repository's HEAD
	SourceNone Source = "none" // not a repository (or no HEAD yet)
)

// Info describes the branch of a folder.
type Info struct {
	// Branch is the short branch name; empty when HEAD is detached, the
	// folder is not in a repository, or the repository has no commits yet
	// and no symbolic HEAD.
	Branch string `json:"branch,omitempty"`
	// Commit is the full hash HEAD points at; empty without commits.
	Commit string `json:"commit,omitempty"`
	// Detached is true when HEAD points at a commit rather than a branch.
	Detached bool `json:"detached"`
	// Root is the top folder of the work tree, when in a repository.
	Root   string `json:"root,omitempty"`
	Source Source `json:"source"`
}

// Options of Detect.
type Options struct {
	// LookupEnv reads MIRRORD_BRANCH_NAME; nil means it is not consulted.
	LookupEnv func(string) (string, bool)
}

// Detect returns the branch of folder (or of the repository containing it).
// A folder outside any repository is not an error: it yields Source "none".
func Detect(ctx context.Context, folder string, opts Options) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if opts.LookupEnv != nil {
		if v, ok := opts.LookupEnv("MIRRORD_BRANCH_NAME"); ok && v != "" {
			return Info{Branch: v, Source: SourceEnv}, nil
		}
	}
	abs, err := filepath.Abs(folder)
	if err != nil {
		return Info{}, fmt.Errorf("branch of %s: %w", folder, err)
	}
	repo, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return Info{Source: SourceNone}, nil
	}
	if err != nil {
		return Info{}, fmt.Errorf("opening the repository of %s: %w", abs, err)
	}
	info := Info{Source: SourceGit}
	if wt, err := repo.Worktree(); err == nil {
		info.Root = wt.Filesystem.Root()
	}
	head, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return Info{}, fmt.Errorf("reading HEAD of %s: %w", abs, err)
	}
	if head.Type() == plumbing.SymbolicReference {
		if head.Target().IsBranch() {
			info.Branch = head.Target().Short()
		}
		// An unborn branch (no commits yet) has a name but no commit.
		if ref, err := repo.Reference(head.Target(), true); err == nil {
			info.Commit = ref.Hash().String()
		}
		return info, nil
	}
	info.Detached = true
	info.Commit = head.Hash().String()
	return info, nil
}
