//go:build !linux

package proxy

import "net"

// eventLoops is empty where there is no event loop: every connection takes the
// general path.
type eventLoops struct{ loops []interface{ stopAll() } }

// serveLoop reports that the event loop does not serve ln on this system.
func (p *Proxy) serveLoop(net.Listener, <-chan struct{}) bool { return false }
