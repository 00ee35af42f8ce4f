package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// demoCopyPrefix names the directory of the demo's copy of its own binary.
const demoCopyPrefix = "sluice-demo-bin-"

// demoExecutable is the binary the demo's environment allows as its one command: this
// very binary, or, when the demo runs as root (its instances then run as nobody), a
// copy in a directory every user may enter, since the binary's own directory may not be.
func demoExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("demo: find this binary: %w", err)
	}
	if os.Geteuid() != 0 {
		return exe, nil
	}
	dir, err := os.MkdirTemp("", demoCopyPrefix)
	if err != nil {
		return "", fmt.Errorf("demo: copy this binary for the instances' user: %w", err)
	}
	to := filepath.Join(dir, "sluice")
	if err := copyFile(exe, to); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("demo: copy this binary for the instances' user: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("demo: copy this binary for the instances' user: %w", err)
	}
	return to, nil
}

// removeDemoCopy removes the copy demoExecutable made, and nothing else.
func removeDemoCopy(exe string) {
	if dir := filepath.Dir(exe); strings.HasPrefix(filepath.Base(dir), demoCopyPrefix) {
		os.RemoveAll(dir)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
