package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/test/harness"
)

// TestKrewInstall builds the release archive and krew manifest with
// krew/dist.sh, installs them with the real krew (v0.4.4) into a temporary
// KREW_ROOT, and runs the plugin through kubectl's plugin discovery and
// plugin completion.
func TestKrewInstall(t *testing.T) {
	root := harness.RepoRoot(t)
	krew := filepath.Join(root, ".cache", "tools", "krew")
	if _, err := os.Stat(krew); err != nil {
		t.Fatalf("%s missing: run `make test`, which builds it", krew)
	}
	work := t.TempDir()
	dist := filepath.Join(work, "dist")
	const version = "v0.0.0-test"
	cmd := exec.Command(filepath.Join(root, "krew", "dist.sh"), version, "-s -w -X github.com/ocne-image/ocne-image/shared/buildinfo.Version="+version)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PLATFORMS=linux/amd64", "DIST_DIR="+dist, "RELEASE_URL=https://example.invalid/releases")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dist.sh: %v\n%s", err, out)
	}
	manifest := filepath.Join(dist, "ocne-image.yaml")
	archive := filepath.Join(dist, "kubectl-ocne_image_"+version+"_linux_amd64.tar.gz")

	// Every archive is in SHA256SUMS, and the others' programs run.
	check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil || strings.Count(string(out), ": OK") != 4 {
		t.Errorf("sha256sum --check SHA256SUMS: %v\n%s", err, out)
	}
	for _, name := range []string{"podman-ocne", "ocne-ignition-http-put", "ocne-ignition-matchbox"} {
		dir := filepath.Join(work, name)
		os.Mkdir(dir, 0o755)
		if out, err := exec.Command("tar", "-xzf", filepath.Join(dist, name+"_"+version+"_linux_amd64.tar.gz"), "-C", dir).CombinedOutput(); err != nil {
			t.Errorf("unpack %s: %v\n%s", name, err, out)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s archive: %v", name, err)
		}
	}
	out, err := exec.Command(filepath.Join(work, "podman-ocne", "podman-ocne"), "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Errorf("podman-ocne --version from its archive: %v: %s", err, out)
	}

	krewRoot := filepath.Join(work, "krew")
	env := append(os.Environ(), "KREW_ROOT="+krewRoot, "PATH="+filepath.Join(krewRoot, "bin")+":"+os.Getenv("PATH"), "HOME="+work)
	install := exec.Command(krew, "install", "--manifest="+manifest, "--archive="+archive)
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("krew install: %v\n%s", err, out)
	}

	ver := exec.Command("kubectl", "ocne-image", "version")
	ver.Env = env
	out, err = ver.CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Fatalf("kubectl ocne-image version: %v: %s", err, out)
	}

	// The builder program is installed beside the plugin, and
	// builder-image packs it: the image runs it, not the plugin.
	store := filepath.Join(krewRoot, "store", "ocne-image", version)
	builderBin := filepath.Join(store, builderimage.BinaryName)
	out, err = exec.Command(builderBin).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--source, --arch and --version are required") {
		t.Errorf("%s without flags: %v: %s (want exit 2 and the usage error)", builderBin, err, out)
	}
	image := filepath.Join(work, "builder.tar")
	bi := exec.Command("kubectl", "ocne-image", "builder-image", "--output-file", image)
	bi.Env = env
	if out, err := bi.CombinedOutput(); err != nil {
		t.Fatalf("kubectl ocne-image builder-image: %v: %s", err, out)
	}
	out, err = exec.Command("skopeo", "inspect", "--config", "oci-archive:"+image).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --config: %v", err)
	}
	var cfg imgspecv1.Image
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("skopeo inspect --config: %v: %s", err, out)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{builderimage.BinaryPath}) {
		t.Errorf("builder image from the krew install runs %q, want %s", cfg.Config.Entrypoint, builderimage.BinaryPath)
	}

	// kubectl's plugin completion runs kubectl_complete-ocne_image from PATH.
	bin := filepath.Join(work, "bin")
	os.Mkdir(bin, 0o755)
	os.Symlink(filepath.Join(root, "krew", "kubectl_complete-ocne_image"), filepath.Join(bin, "kubectl_complete-ocne_image"))
	complete := exec.Command("kubectl", "__complete", "ocne-image", "cr")
	complete.Env = append(env, "PATH="+bin+":"+filepath.Join(krewRoot, "bin")+":"+os.Getenv("PATH"))
	out, err = complete.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "create") {
		t.Errorf("kubectl __complete ocne-image cr: %v: %s", err, out)
	}
}
