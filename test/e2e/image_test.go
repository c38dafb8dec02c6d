package e2e

import (
	"bufio"
	"crypto/x509"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gangsched/gangsched/test/cluster"
)

// nonRootUID is the user the image and the Deployment run as.
const nonRootUID = "65532"

// The image holds what `make image-context` stages, and that is all the
// binary needs on a scratch base: the binary itself, static (no dynamic
// loader, no shared library: there is none in the image), printing its
// version; a CA bundle that parses; a passwd and group naming the
// non-root user; a Dockerfile FROM scratch that runs as that user.
func TestImageContents(t *testing.T) {
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a dynamic loader: build it with CGO_ENABLED=0 (make build)", binary)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s links shared libraries %v, which a scratch image does not have", binary, libs)
	}
	f.Close()
	checkVersion(t, exec.Command(binary, "--version"))

	root, dir := stageImage(t)
	if _, err := os.Stat(filepath.Join(dir, "gang-scheduler")); err != nil {
		t.Error(err)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil || !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Errorf("the image's CA bundle holds no certificate: %v", err)
	}
	for file, want := range map[string]string{"etc/passwd": "nonroot:x:" + nonRootUID + ":" + nonRootUID + ":", "etc/group": "nonroot:x:" + nonRootUID + ":"} {
		if !fileHasLinePrefix(t, filepath.Join(dir, file), want) {
			t.Errorf("%s names no %q", file, want)
		}
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(dockerfile), "\n") {
		if strings.HasPrefix(line, "FROM ") && line != "FROM scratch" {
			t.Errorf("Dockerfile: %q pulls a base image; the image is FROM scratch", line)
		}
		if strings.HasPrefix(line, "USER ") && line != "USER "+nonRootUID+":"+nonRootUID {
			t.Errorf("Dockerfile: %q, want USER %s:%s", line, nonRootUID, nonRootUID)
		}
	}
}

// Where a Docker engine runs, the image builds from the Dockerfile over the
// staged context (what `make image` does), runs `gang-scheduler --version`
// and runs as the non-root user; elsewhere the test says it skipped and why.
func TestImageRuns(t *testing.T) {
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Skipf("image not built: no Docker engine here (docker version: %v: %s); TestImageContents checks what it would hold",
			err, strings.TrimSpace(string(out)))
	}
	root, dir := stageImage(t)
	image := fmt.Sprintf("gangsched-e2e:%d", os.Getpid())
	build := exec.Command("docker", "build", "-f", filepath.Join(root, "Dockerfile"), "-t", image, dir)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image).Run() })
	checkVersion(t, exec.Command("docker", "run", "--rm", image, "--version"))
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Config.User}}", image).Output()
	if err != nil || strings.TrimSpace(string(out)) != nonRootUID+":"+nonRootUID {
		t.Errorf("image user %q (%v), want %s:%s", out, err, nonRootUID, nonRootUID)
	}
}

// stageImage runs `make image-context` for the binary under test into a
// directory of the test's, and returns the repository root and it.
func stageImage(t *testing.T) (root, dir string) {
	t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "image")
	stage := exec.Command("make", "--no-print-directory", "image-context", "IMAGE_CONTEXT="+dir, "IMAGE_BINARY="+binary)
	stage.Dir = root
	if out, err := stage.CombinedOutput(); err != nil {
		t.Fatalf("make image-context: %v\n%s", err, out)
	}
	return root, dir
}

// checkVersion runs cmd, a gang-scheduler --version, and checks it names
// the Kubernetes release it is built on and gangsched's version.
func checkVersion(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Kubernetes v1.37.2-gangsched-") {
		t.Errorf("%s: %v: %q, want Kubernetes v1.37.2-gangsched-<version>", strings.Join(cmd.Args, " "), err, out)
	}
}

// fileHasLinePrefix reports whether a line of the file starts with prefix.
func fileHasLinePrefix(t *testing.T, path, prefix string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), prefix) {
			return true
		}
	}
	return false
}
