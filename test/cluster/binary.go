package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
