package main

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImageTarball builds the real image and reads it back both ways it can be
// loaded: as a `docker save` archive and as an OCI image layout. It holds the static
// binary and the CA bundle and nothing else, and runs as a non-root user.
func TestImageTarball(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	out := filepath.Join(dir, "sluice-image.tar")
	o := options{src: "../..", out: out, tag: "example.com/sluice:test", version: "test", arch: runtime.GOARCH,
		caFile: "/etc/ssl/certs/ca-certificates.crt"}
	if _, err := os.Stat(o.caFile); err != nil {
		t.Fatalf("the CA bundle comes from Debian's ca-certificates package: %v", err)
	}
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}

	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatalf("read as a docker save archive: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, cf)
	files := layerFiles(t, img, dir)
	want := []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt", "sluice"}
	if !slices.Equal(files, want) {
		t.Errorf("image files %q, want exactly %q", files, want)
	}
	bin := filepath.Join(dir, "sluice")
	checkELFStatic(t, bin)
	if runtime.GOOS == "linux" {
		if out, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput(); err != nil {
			t.Errorf("the image's sluice --help: %v\n%s", err, out)
		}
	}
	checkLayout(t, out, dir, img)
}

// checkConfig asserts how the image runs and what it says about itself.
func checkConfig(t *testing.T, cf *v1.ConfigFile) {
	t.Helper()
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/sluice"}) || !slices.Equal(c.Cmd, []string{"server"}) {
		t.Errorf("entrypoint %q cmd %q, want [/sluice] [server]", c.Entrypoint, c.Cmd)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	for _, k := range []string{"org.opencontainers.image.title", "org.opencontainers.image.source", "org.opencontainers.image.version"} {
		if c.Labels[k] == "" {
			t.Errorf("label %s missing (labels %v)", k, c.Labels)
		}
	}
	if c.Labels["org.opencontainers.image.version"] != "test" {
		t.Errorf("version label %q, want test", c.Labels["org.opencontainers.image.version"])
	}
}

// layerFiles lists the entries of the image's single layer and extracts sluice into dir.
func layerFiles(t *testing.T, img v1.Image, dir string) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want root (the user may read, not write it)", h.Name, h.Uid, h.Gid)
		}
		if h.Name == "sluice" {
			if h.Mode != 0o755 {
				t.Errorf("sluice mode %o, want 755", h.Mode)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "sluice"), b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return names
}

// checkELFStatic asserts the binary has no interpreter and no dynamic section.
func checkELFStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("sluice is not an ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("sluice has a %s program header: it is not static", p.Type)
		}
	}
}

// checkLayout unpacks the tarball and reads it as an OCI image layout whose one image
// is the same as the docker archive's.
func checkLayout(t *testing.T, tarPath, dir string, want v1.Image) {
	t.Helper()
	root := filepath.Join(dir, "unpacked")
	untar(t, tarPath, root)
	idx, err := layout.ImageIndexFromPath(root)
	if err != nil {
		t.Fatalf("read as an OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("OCI index holds %d manifests (%v), want 1", len(im.Manifests), err)
	}
	if ref := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; ref != "example.com/sluice:test" {
		t.Errorf("ref name %q, want example.com/sluice:test", ref)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := img.ConfigName()
	exp, _ := want.ConfigName()
	if got != exp {
		t.Errorf("OCI layout config %s, docker archive config %s: want one image", got, exp)
	}
}

func untar(t *testing.T, path, root string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
