package routerd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// handoffTimeout bounds each exchange of a hand-over.
const handoffTimeout = 30 * time.Second

// handoffHeader travels with the passed sockets: the address of each, in the
// order of the descriptors.
type handoffHeader struct {
	Addrs []string `json:"addrs"`
	PID   int      `json:"pid"`
}

// serveHandoff answers the hand-over requests of upgrading processes, one at a
// time, until hand is closed.
func (d *daemon) serveHandoff(hand, api *net.UnixListener) {
	for {
		c, err := hand.AcceptUnix()
		if err != nil {
			return
		}
		if err := checkPeer(c); err != nil {
			d.opts.Logger.Warn("router hand-over refused", "err", err)
			c.Close()
			continue
		}
		if d.handOver(c) {
			api.Close()
			hand.Close()
			c.Write([]byte("released\n")) //nolint:errcheck // the new process serves either way
			c.Close()
			close(d.handed)
			return
		}
		c.Close()
	}
}

// handOver passes the listening sockets to the process on c and reports whether
// it took over; while it starts, the admin API refuses changes, so the state it
// restores is the last one.
func (d *daemon) handOver(c *net.UnixConn) bool {
	c.SetDeadline(time.Now().Add(handoffTimeout))
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || strings.TrimSpace(line) != "handoff" {
		return false
	}
	d.frozen.Lock()
	files, err := d.r.ListenerFiles()
	if err != nil {
		d.frozen.Unlock()
		d.opts.Logger.Error("router hand-over", "err", err)
		return false
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	h := handoffHeader{PID: os.Getpid()}
	var fds []int
	for addr, f := range files {
		h.Addrs = append(h.Addrs, addr)
		fds = append(fds, int(f.Fd()))
	}
	b, _ := json.Marshal(h)
	if _, _, err := c.WriteMsgUnix(append(b, '\n'), syscall.UnixRights(fds...), nil); err != nil {
		d.frozen.Unlock()
		d.opts.Logger.Error("router hand-over", "err", err)
		return false
	}
	d.opts.Logger.Info("router hand-over: sockets passed; waiting for the new process", "addrs", h.Addrs)
	line, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		d.frozen.Unlock()
		d.opts.Logger.Warn("router hand-over abandoned by the new process; serving on", "err", err)
		return false
	}
	return true // stays frozen: the new process owns the state now
}

// oldRouter is the running router an upgrading process takes over from.
type oldRouter struct {
	c  *net.UnixConn
	br *bufio.Reader
}

// takeOver asks the router serving dir for its listening sockets.
func takeOver(ctx context.Context, dir string) (*oldRouter, map[string]net.Listener, error) {
	var dl net.Dialer
	nc, err := dl.DialContext(ctx, "unix", handoffPath(dir))
	if err != nil {
		return nil, nil, fmt.Errorf("no router to take over from in %s: %w", dir, err)
	}
	c := nc.(*net.UnixConn)
	c.SetDeadline(time.Now().Add(handoffTimeout))
	if _, err := c.Write([]byte("handoff\n")); err != nil {
		c.Close()
		return nil, nil, err
	}
	buf, oob := make([]byte, 64<<10), make([]byte, syscall.CmsgSpace(4*16))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("receive sockets: %w", err)
	}
	lns, err := listenersFrom(buf[:n], oob[:oobn])
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return &oldRouter{c: c, br: bufio.NewReader(c)}, lns, nil
}

// listenersFrom turns a hand-over message into listeners by address.
func listenersFrom(msg, oob []byte) (map[string]net.Listener, error) {
	var h handoffHeader
	if err := json.Unmarshal(msg, &h); err != nil {
		return nil, fmt.Errorf("hand-over header: %w", err)
	}
	var fds []int
	if len(oob) > 0 {
		cms, err := syscall.ParseSocketControlMessage(oob)
		if err != nil {
			return nil, fmt.Errorf("hand-over sockets: %w", err)
		}
		for _, cm := range cms {
			got, err := syscall.ParseUnixRights(&cm)
			if err != nil {
				return nil, fmt.Errorf("hand-over sockets: %w", err)
			}
			fds = append(fds, got...)
		}
	}
	if len(fds) != len(h.Addrs) {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return nil, fmt.Errorf("hand-over: %d sockets for %d addresses", len(fds), len(h.Addrs))
	}
	out := map[string]net.Listener{}
	var errs []error
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), h.Addrs[i])
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("socket for %s: %w", h.Addrs[i], err))
			continue
		}
		out[h.Addrs[i]] = ln
	}
	if err := errors.Join(errs...); err != nil {
		closeAll(out)
		return nil, err
	}
	return out, nil
}

// abort tells the old router to serve on (nil-safe).
func (o *oldRouter) abort() {
	if o != nil {
		o.c.Close()
	}
}

// release tells the old router the new one serves; it stops accepting and
// drains. It returns once the old process freed the admin sockets (nil-safe).
func (o *oldRouter) release() error {
	if o == nil {
		return nil
	}
	defer o.c.Close()
	if _, err := o.c.Write([]byte("ready\n")); err != nil {
		return err
	}
	line, err := o.br.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "released" {
		return fmt.Errorf("unexpected answer %q", line)
	}
	return nil
}

// checkPeer admits connections from processes of this user or root only.
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("peer uid %d is neither root nor the router's user", cred.Uid)
	}
	return nil
}
