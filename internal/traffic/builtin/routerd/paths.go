package routerd

import (
	"path/filepath"
)

// The files of a router directory.
const (
	stateName   = "state.json"
	socketName  = "router.sock"
	handoffName = "handoff.sock"
	logName     = "router.log"
)

// StatePath is the state file of the router in dir.
func StatePath(dir string) string { return filepath.Join(dir, stateName) }

// SocketPath is the admin API socket of the router in dir.
func SocketPath(dir string) string { return filepath.Join(dir, socketName) }

// handoffPath is the socket over which an upgrade takes the listeners.
func handoffPath(dir string) string { return filepath.Join(dir, handoffName) }

// LogPath is where a router started by Client writes its log.
func LogPath(dir string) string { return filepath.Join(dir, logName) }
