package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
)

func main() {
	var o options
	flag.StringVar(&o.src, "src", ".", "the sluice repository to build")
	flag.StringVar(&o.out, "out", "bin/sluice-image.tar", "the image tarball to write")
	flag.StringVar(&o.tag, "tag", "ghcr.io/sluicehq/sluice:dev", "the image reference recorded in the tarball")
	flag.StringVar(&o.version, "version", "dev", "the version label (org.opencontainers.image.version)")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "the GOARCH to build for (linux only)")
	flag.StringVar(&o.caFile, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to include (Debian's ca-certificates); empty: none")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// run builds the binary in a temporary directory and writes the image.
func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "sluice-image-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "sluice")
	if err := buildBinary(ctx, o.src, o.arch, bin); err != nil {
		return err
	}
	if err := checkStatic(bin); err != nil {
		return err
	}
	o.revision = revision(ctx, o.src)
	img, err := newImage(o, bin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	if err := writeArchive(img, o.tag, o.out, tmp); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "image: wrote %s (%s, linux/%s)\n", o.out, o.tag, o.arch)
	return nil
}
