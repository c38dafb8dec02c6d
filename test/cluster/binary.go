package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binary returns the binary named by the environment variable env or, when
// it is unset, builds the package pkg (a path from the repository root,
// such as ./cmd/gang-scheduler) into dir, static as make build does, and
// returns its path.
func Binary(env, pkg, dir string) (string, error) {
	if path := os.Getenv(env); path != "" {
		return path, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, filepath.Base(pkg))
	build := exec.Command("go", "build", "-o", path, pkg)
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building %s: %w", pkg, err)
	}
	return path, nil
}

// Tool returns a tool built into the repository's bin/ by `make <name>`:
// the path the environment variable env names or, when it is unset,
// bin/<name>. It skips tb, saying how to build the tool, when neither is
// there.
func Tool(tb testing.TB, env, name string) string {
	tb.Helper()
	if path := os.Getenv(env); path != "" {
		return path
	}
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(root, "bin", name)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("%s is unset and there is no bin/%s: `make %s` builds it (make test does)", env, name, name)
	}
	return path
}
