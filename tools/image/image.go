package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image holds and how it runs.
const (
	binaryPath = "sluice"                            // the only program, at /sluice
	caPath     = "etc/ssl/certs/ca-certificates.crt" // where Go's crypto/x509 looks first on Linux
	imageUser  = "65532:65532"                       // non-root, as in deploy/ and the chart
)

// epoch is the time of every file and of the image, so equal inputs give equal images.
var epoch = time.Unix(0, 0).UTC()

// options is what one build needs.
type options struct {
	src, out, tag, version, arch, caFile string
	revision                             string
}

// newImage returns the image of the binary at bin and the CA bundle of o.
func newImage(o options, bin string) (v1.Image, error) {
	data, err := layerTar(bin, o.caFile)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", o.arch, v1.Time{Time: epoch}
	cf.Config = v1.Config{
		User:       imageUser,
		Entrypoint: []string{"/" + binaryPath},
		Cmd:        []string{"server"},
		WorkingDir: "/",
		Labels:     labels(o),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return img, nil
}

// labels are the OCI annotation keys of the image's config.
func labels(o options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "sluice",
		"org.opencontainers.image.description": "progressive delivery: blue/green and canary releases with verification and fast rollback",
		"org.opencontainers.image.source":      "https://github.com/sluicehq/sluice",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if o.revision != "" {
		l["org.opencontainers.image.revision"] = o.revision
	}
	return l
}

// layerTar is the one layer: the directories of the CA bundle, the bundle when
// caFile is set, and the binary, owned by root and readable by everyone.
func layerTar(bin, caFile string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if caFile != "" {
		for _, d := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/"} {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return nil, fmt.Errorf("layer: %w", err)
			}
		}
		if err := addFile(tw, caFile, caPath, 0o644); err != nil {
			return nil, err
		}
	}
	if err := addFile(tw, bin, binaryPath, 0o755); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}

// addFile copies the file at src into tw as name.
func addFile(tw *tar.Writer, src, name string, mode int64) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("layer: %s: %w", name, err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("layer: %s: %w", name, err)
	}
	return nil
}
