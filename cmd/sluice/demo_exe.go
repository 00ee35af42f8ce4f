package main

import (
	"fmt"
	"os"

	"github.com/sluicehq/sluice/internal/platform/local"
)

// demoExecutable is the binary the demo's environment allows as its one command: this
// very binary, or, when the demo runs as root (its instances then run as nobody), a
// copy in a directory every user may enter; cleanup removes that copy.
func demoExecutable() (exe string, cleanup func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("demo: find this binary: %w", err)
	}
	exe, cleanup, err = local.RunnableCopy(self, "sluice-demo-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("demo: %w", err)
	}
	return exe, cleanup, nil
}
