package proxy

import (
	"cmp"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The event loop is the HTTP/1.1 fast path on Linux: each loop is one goroutine
// owning an epoll instance with the listeners' sockets, its client connections
// and its own keep-alive connections to the instances. It reads and writes
// non-blocking sockets itself (edge-triggered, a read shorter than the buffer
// means drained, so no read returns EAGAIN), parses heads in place and forwards
// bodies unchanged, which saves Go's netpoller round trips and two goroutine
// switches per request. It takes plain HTTP/1.1 with Content-Length or no request
// body; any other connection (TLS, h2c, upgrades, chunked or Expect request
// bodies, HTTP/1.0) and any connection while mirroring or host dispatch is on is
// handed, with the bytes already read, to the general path (serveHTTPConn).

const (
	epollET        = 1 << 31
	epollExclusive = 1 << 28
	epollReadable  = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR
	epollPeerShut  = syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR
	loopBufSize    = 16 << 10
	// maxPending bounds output queued for a slow peer before the loop stops
	// reading the other side.
	maxPending = 256 << 10
	// sweepEvery is how often deadlines are checked.
	sweepEvery = 100 * time.Millisecond
	// loopIdleUpstream bounds how long an idle upstream connection is kept.
	loopIdleUpstream = 30 * time.Second
	// coalesceWait is how long a busy loop lets events gather before it looks for
	// them again, and coalesceInFlight how many exchanges in flight make it busy
	// (see coalesce).
	coalesceWait     = 10 * time.Microsecond
	coalesceInFlight = 8
)

// eventLoops are a proxy's loops, started by the first Serve that uses them.
type eventLoops struct {
	once  sync.Once
	loops []*loop
	err   error
}

// loopConn is one socket of a loop: a client connection or an upstream one.
type loopConn struct {
	fd                 int
	gen                int32 // tells this connection's events from a closed one's with the same fd
	upstream           bool
	rbuf               []byte
	rlen               int
	canRead            bool // edge seen and not drained
	rdhup              bool // the peer shut its side: read on to the end, a short read is not drained
	eof                bool // a client sent its last bytes: answer what it sent, then close
	wbuf               []byte
	queued             bool      // in the loop's list of output to send at the end of the round
	readAhead          bool      // this round's receive was made in the batch before the events
	sendFailed         bool      // sendAll's send failed
	deadline           time.Time // zero: none
	peer               *loopConn
	closeAfterResponse bool

	// client side
	remote    []byte // the client's IP, for X-Forwarded-For
	req       head
	reqBody   int64     // request body bytes still to forward upstream
	parked    *instance // waiting for a free connection to this instance
	started   time.Time
	slot      int
	setCookie string

	// upstream side
	in         *instance
	reused     bool
	idempotent bool
	replay     []byte // the whole request, kept until the response starts, for a retry
	resp       head
	headDone   bool
	noBody     bool
	untilEOF   bool
	left       int64 // Content-Length body bytes to go
	chunked    bool
	ch         chunks
	bytesOut   uint64
	connected  bool
	idleSince  time.Time
}

// loop is one event loop.
type loop struct {
	p       *Proxy
	epfd    int
	epfile  *os.File    // a duplicate of epfd watched by Go's netpoller; nil if the loop blocks in epoll_wait
	ring    *ring       // batches each round's receives and sends; nil: one system call each
	queued  []*loopConn // connections with output for sendAll
	spare   []*loopConn // sendAll's other list, reused
	batch   []*loopConn // receiveAll's connections by tag
	wakeR   int
	wakeW   int
	conns   []*loopConn // by fd
	gen     int32
	idle    map[*instance][]*loopConn
	busy    map[*instance]int         // exchanges in flight per instance
	waiting map[*instance][]*loopConn // clients parked for a free connection
	connCap int                       // this loop's share of MaxConnsPerInstance
	scratch []byte
	now     time.Time
	swept   time.Time

	inFlight  int          // exchanges in flight on all instances: busy's sum
	coalesced atomic.Int64 // waits coalesce made, for tests

	mu        sync.Mutex
	listeners map[int]chan struct{} // listener fd -> closed when the loop let go of it
	detach    []int                 // listener fds to let go of
	closeAll  bool
	stopped   bool // shutdown ran: the pipe and epoll fds are closed
}

// startLoops starts GOMAXPROCS loops once.
func (p *Proxy) startLoops() error {
	p.loops.once.Do(func() {
		for i := 0; i < runtime.GOMAXPROCS(0); i++ {
			l, err := newLoop(p)
			if err != nil {
				p.loops.err = err
				return
			}
			p.loops.loops = append(p.loops.loops, l)
			p.wg.Add(1)
			go l.run()
		}
	})
	return p.loops.err
}

func newLoop(p *Proxy) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	l := &loop{p: p, epfd: epfd, wakeR: fds[0], wakeW: fds[1], idle: map[*instance][]*loopConn{},
		busy: map[*instance]int{}, waiting: map[*instance][]*loopConn{},
		connCap: max(1, p.cfg.MaxConnsPerInstance/runtime.GOMAXPROCS(0)),
		scratch: make([]byte, 0, loopBufSize), listeners: map[int]chan struct{}{}}
	if err := l.ctl(syscall.EPOLL_CTL_ADD, l.wakeR, syscall.EPOLLIN); err != nil {
		return nil, err
	}
	if loopBatching {
		if r, err := newRing(ringEntries); err == nil {
			l.ring = r
		} else {
			p.cfg.Logger.Debug("proxy: event loop without io_uring batching", "err", err)
		}
	}
	return l, nil
}

func (l *loop) ctl(op, fd int, events uint32) error {
	return l.ctlGen(op, fd, events, 0)
}

// ctlGen registers fd with a generation that comes back with its events.
func (l *loop) ctlGen(op, fd int, events uint32, gen int32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd), Pad: gen}
	return os.NewSyscallError("epoll_ctl", syscall.EpollCtl(l.epfd, op, fd, &ev))
}

// serveLoop serves ln on the event loops until stop is closed; it reports false
// at once when the loops cannot take ln (not a TCP listener, ModeTCP, disabled,
// or the loops failed to start), and the caller serves ln itself.
func (p *Proxy) serveLoop(ln net.Listener, stop <-chan struct{}) bool {
	if !loopEligible(p, ln) {
		return false
	}
	if err := p.startLoops(); err != nil {
		p.cfg.Logger.Warn("proxy: no event loop; serving HTTP/1.1 on the general path", "err", err)
		return false
	}
	raw, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		return false
	}
	var fds []int
	var dupErr error
	ctlErr := raw.Control(func(fd uintptr) {
		for range p.loops.loops {
			nfd, err := syscall.Dup(int(fd))
			if err != nil {
				dupErr = err
				return
			}
			syscall.CloseOnExec(nfd)
			fds = append(fds, nfd)
		}
	})
	if dupErr != nil || ctlErr != nil { // (Control fails on a listener already closed)
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return false
	}
	var released []chan struct{}
	var addErr error
	for i, l := range p.loops.loops {
		done, err := l.addListener(fds[i])
		released = append(released, done)
		addErr = cmp.Or(addErr, err)
	}
	if addErr == nil {
		<-stop
	} else {
		p.cfg.Logger.Warn("proxy: the event loop cannot watch the listener; serving HTTP/1.1 on the general path", "err", addErr)
	}
	for i, l := range p.loops.loops {
		l.removeListener(fds[i])
	}
	for _, r := range released {
		<-r
	}
	return addErr == nil
}

// loopEligible reports whether a listener's connections can start on the loops.
func loopEligible(p *Proxy, ln net.Listener) bool {
	if p.cfg.Mode != ModeHTTP || p.cfg.DisableEventLoop {
		return false
	}
	_, ok := ln.(*net.TCPListener)
	return ok
}

// addListener has the loop accept on fd (its own duplicate of a listening
// socket); done is closed once the loop has let go of fd.
func (l *loop) addListener(fd int) (done chan struct{}, err error) {
	done = make(chan struct{})
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		syscall.Close(fd)
		close(done)
		return done, ErrClosed
	}
	l.listeners[fd] = done
	l.mu.Unlock()
	// EPOLLEXCLUSIVE (Linux 4.5) wakes one loop per new connection.
	return done, l.ctl(syscall.EPOLL_CTL_ADD, fd, syscall.EPOLLIN|epollExclusive)
}

// removeListener asks the loop to stop accepting on fd and close it.
func (l *loop) removeListener(fd int) {
	l.mu.Lock()
	l.detach = append(l.detach, fd)
	l.mu.Unlock()
	l.wake()
}

// stopAll asks the loop to close every connection and end.
func (l *loop) stopAll() {
	l.mu.Lock()
	l.closeAll = true
	l.mu.Unlock()
	l.wake()
}

func (l *loop) wake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	var b [1]byte
	syscall.Write(l.wakeW, b[:]) //nolint:errcheck // a full pipe is already a wake-up
}

// run is the loop's goroutine. It parks in Go's netpoller, which watches the
// loop's epoll descriptor (an epoll instance is readable while it has events),
// rather than blocking its thread in epoll_wait: a thread blocked in a system
// call makes the runtime take its P away and hand it to another thread, and
// wake-ups then cost thread switches and the scheduler's monitor polling every
// 20 µs. The loop's own epoll_wait never blocks.
func (l *loop) run() {
	defer l.p.wg.Done()
	evs := make([]syscall.EpollEvent, 256)
	parker := l.parkable(evs)
	n := 0
	for {
		l.coalesce(n)
		var err error
		if parker != nil {
			n, err = parker.wait()
		} else {
			n, err = syscall.EpollWait(l.epfd, evs, int(sweepEvery/time.Millisecond))
		}
		if err != nil && err != syscall.EINTR {
			l.p.cfg.Logger.Error("proxy: event loop failed", "err", err)
			l.shutdown()
			return
		}
		l.now = time.Now()
		if l.ring != nil && n > 0 {
			l.receiveAll(evs[:n])
		}
		for i := 0; i < n; i++ {
			l.event(int(evs[i].Fd), evs[i].Pad, evs[i].Events)
		}
		if len(l.waiting) > 0 {
			l.unpark()
		}
		if l.commands() {
			l.shutdown()
			return
		}
		if l.now.Sub(l.swept) >= sweepEvery {
			l.sweep()
		}
		if len(l.queued) > 0 {
			l.sendAll()
		}
	}
}

// coalesce lets a busy loop's next events gather: after a round that handled
// events while at least coalesceInFlight exchanges are in flight on the loop, it
// sleeps coalesceWait (plus the thread's timer slack, 50 µs by default) before it
// looks again, so the requests and answers that arrive meanwhile are handled in
// one round — one wake-up, one batch of receives, one batch of sends — instead of
// a wake-up each. That is interrupt moderation, as network cards do it: on a
// loaded proxy it roughly halves the CPU per request (docs/benchmarks.md). With
// fewer exchanges in flight the loop looks at once: there a sleep would delay the
// few clients there are and gather little.
//
// The sleep is a raw system call: the goroutine keeps its P, as it does while
// it handles events, so the runtime neither hands the P to another thread nor
// has its monitor poll every 20 µs; other goroutines wait at most the sleep.
func (l *loop) coalesce(lastRound int) {
	if lastRound <= 0 || l.inFlight < coalesceInFlight || l.p.cfg.DisableCoalescing {
		return
	}
	ts := syscall.NsecToTimespec(int64(coalesceWait))
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0) //nolint:errcheck // EINTR only ends the wait early
	l.coalesced.Add(1)
}

// parker is a loop's wait in Go's netpoller: a duplicate of the loop's epoll
// descriptor as an os.File, and a poll function made once (a closure per wait
// would be garbage per round).
type parker struct {
	file *os.File
	rc   syscall.RawConn
	evs  []syscall.EpollEvent
	n    int
	err  error
	poll func(fd uintptr) bool
}

// parkable makes the loop's parker; it returns nil (and the loop blocks in
// epoll_wait) if the runtime cannot watch the epoll descriptor.
func (l *loop) parkable(evs []syscall.EpollEvent) *parker {
	fd, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(l.epfd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return nil
	}
	if syscall.SetNonblock(int(fd), true) != nil { // epoll_wait ignores the flag; the netpoller needs it
		syscall.Close(int(fd))
		return nil
	}
	f := os.NewFile(fd, "epoll")
	rc, err := f.SyscallConn()
	if err != nil || f.SetReadDeadline(time.Now().Add(sweepEvery)) != nil {
		f.Close()
		return nil
	}
	l.epfile = f
	pk := &parker{file: f, rc: rc, evs: evs}
	// The poll must run before each park: RawConn.Read forgets readiness the
	// netpoller saw before it was called, so only an empty epoll_wait proves
	// that the next event will wake the goroutine.
	pk.poll = func(fd uintptr) bool {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&pk.evs[0])), uintptr(len(pk.evs)), 0, 0, 0)
		if e != 0 && e != syscall.EINTR {
			pk.err = e
			return true
		}
		pk.n = int(r)
		return pk.n > 0
	}
	return pk
}

// wait returns the number of ready events in evs, parking the goroutine until
// there are some or the next sweep is due.
func (pk *parker) wait() (int, error) {
	pk.n, pk.err = 0, nil
	err := pk.rc.Read(pk.poll)
	if pk.err != nil {
		return 0, pk.err
	}
	if err != nil {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, err
		}
		// The sweep is due: the caller sweeps on its clock; wait again for the next.
		if err := pk.file.SetReadDeadline(time.Now().Add(sweepEvery)); err != nil {
			return 0, err
		}
	}
	return pk.n, nil
}

func (l *loop) event(fd int, gen int32, ev uint32) {
	if fd == l.wakeR {
		var b [64]byte
		for {
			if n, _ := syscall.Read(l.wakeR, b[:]); n < len(b) {
				return
			}
		}
	}
	if fd < len(l.conns) && l.conns[fd] != nil {
		c := l.conns[fd]
		if c.gen != gen {
			return // an event of a closed connection whose fd was reused since
		}
		if ev&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
			l.writable(c)
		}
		if c.fd >= 0 && ev&epollReadable != 0 {
			if c.readAhead {
				c.readAhead = false // receiveAll read it and set canRead
			} else {
				c.canRead = true
				c.rdhup = c.rdhup || ev&epollPeerShut != 0
			}
			l.readable(c)
		}
		return
	}
	l.mu.Lock()
	_, isListener := l.listeners[fd]
	l.mu.Unlock()
	if isListener {
		l.accept(fd)
	}
}

// commands carries out detach and close requests; it reports whether to end.
func (l *loop) commands() bool {
	l.mu.Lock()
	detach, closeAll := l.detach, l.closeAll
	l.detach = nil
	l.mu.Unlock()
	for _, fd := range detach {
		l.mu.Lock()
		done, ok := l.listeners[fd]
		delete(l.listeners, fd)
		l.mu.Unlock()
		if !ok {
			continue
		}
		l.ctl(syscall.EPOLL_CTL_DEL, fd, 0) //nolint:errcheck // closing removes it anyway
		syscall.Close(fd)
		close(done)
	}
	return closeAll
}

// shutdown closes everything the loop owns.
func (l *loop) shutdown() {
	for _, c := range l.conns {
		if c != nil && c.upstream {
			l.closeConn(c)
		} else if c != nil {
			l.closeClient(c)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for fd, ch := range l.listeners {
		syscall.Close(fd)
		close(ch)
	}
	l.listeners = map[int]chan struct{}{}
	l.stopped = true
	if l.ring != nil {
		l.ring.close()
	}
	syscall.Close(l.wakeR)
	syscall.Close(l.wakeW)
	if l.epfile != nil {
		l.epfile.Close()
	}
	syscall.Close(l.epfd)
}

func (l *loop) accept(lfd int) {
	for {
		fd, sa, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN: drained; anything else: the next event tells
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1) //nolint:errcheck // best effort
		c := &loopConn{fd: fd, rbuf: make([]byte, loopBufSize), remote: remoteIP(sa), slot: -1}
		c.deadline = l.now.Add(sniffTimeout)
		if err := l.register(c); err != nil {
			l.conns[fd] = nil
			syscall.Close(fd)
			continue
		}
		l.p.loopConns.Add(1)
	}
}

// remoteIP returns the text of a client's IP address.
func remoteIP(sa syscall.Sockaddr) []byte {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrFrom4(a.Addr).AppendTo(nil)
	case *syscall.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap().AppendTo(nil)
	}
	return []byte("unknown")
}

func (l *loop) register(c *loopConn) error {
	for c.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*loopConn, len(l.conns)+64)...)
	}
	l.conns[c.fd] = c
	l.gen++
	c.gen = l.gen
	return l.ctlGen(syscall.EPOLL_CTL_ADD, c.fd, syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP|epollET, c.gen)
}

// unregister takes c out of the loop without closing its socket.
func (l *loop) unregister(c *loopConn) {
	l.ctl(syscall.EPOLL_CTL_DEL, c.fd, 0) //nolint:errcheck // the fd is valid; failure changes nothing
	l.conns[c.fd] = nil
}

func (l *loop) closeConn(c *loopConn) {
	if c.fd < 0 {
		return
	}
	if c.queued && len(c.wbuf) > 0 {
		sockSend(c.fd, c.wbuf) // the round's last output, as a direct send would have gone
	}
	l.conns[c.fd] = nil
	syscall.Close(c.fd)
	c.fd = -1
}

// read reads what is available into c's buffer; it reports false when the
// connection ended (EOF or error).
func (l *loop) read(c *loopConn) bool {
	for c.canRead && c.rlen < len(c.rbuf) {
		n, _, e := sockRecv(c.fd, c.rbuf[c.rlen:])
		if e == syscall.EAGAIN {
			c.canRead = false
			return true
		}
		if e != 0 || n == 0 {
			return false
		}
		c.rlen += int(n)
		if c.rlen < len(c.rbuf) && !c.rdhup {
			c.canRead = false // a short read drained the socket; the next arrival is a new edge
		}
	}
	return true
}

// sockRecv and sockSend are recv(2) and send(2) on a non-blocking socket, as
// raw system calls: recvfrom/sendto go straight to the socket, where read and
// write pass through the file layer (file position lock, iterator set-up) first.
func sockRecv(fd int, b []byte) (uintptr, uintptr, syscall.Errno) {
	return syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
}

func sockSend(fd int, b []byte) (uintptr, uintptr, syscall.Errno) {
	return syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MSG_NOSIGNAL, 0, 0)
}

// send writes b to c, queueing what the socket does not take now; it reports
// false when the connection failed. With the ring, b is queued for the round's
// batch (sendAll), whose failures take the same way as a failed flush.
func (l *loop) send(c *loopConn, b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if l.ring != nil {
		c.wbuf = append(c.wbuf, b...)
		if !c.queued && (c.connected || !c.upstream) {
			c.queued = true
			l.queued = append(l.queued, c)
		}
		return true
	}
	if len(c.wbuf) > 0 {
		c.wbuf = append(c.wbuf, b...)
		return true
	}
	n, _, e := sockSend(c.fd, b)
	if e != 0 && e != syscall.EAGAIN {
		return false
	}
	if e == syscall.EAGAIN {
		n = 0
	}
	if int(n) < len(b) {
		c.wbuf = append(c.wbuf, b[n:]...)
	}
	return true
}

// flush writes queued output; it reports false when the connection failed.
func (l *loop) flush(c *loopConn) bool {
	for len(c.wbuf) > 0 {
		n, _, e := sockSend(c.fd, c.wbuf)
		if e == syscall.EAGAIN {
			return true
		}
		if e != 0 {
			return false
		}
		c.wbuf = c.wbuf[:copy(c.wbuf, c.wbuf[n:])]
	}
	return true
}

// sweep enforces deadlines and drops upstream connections idle for too long.
func (l *loop) sweep() {
	l.swept = l.now
	closing := l.p.closing.Load()
	for _, c := range l.conns {
		if closing && c != nil && !c.upstream && c.peer == nil && c.rlen == 0 && len(c.wbuf) == 0 {
			l.closeClient(c) // draining: an idle keep-alive connection goes now
			continue
		}
		if c == nil || c.deadline.IsZero() || l.now.Before(c.deadline) {
			continue
		}
		l.expired(c)
	}
	for in, list := range l.idle {
		keep := list[:0]
		for _, u := range list {
			if l.now.Sub(u.idleSince) > min(loopIdleUpstream, l.p.cfg.IdleTimeout) || u.fd < 0 {
				l.closeConn(u)
				continue
			}
			keep = append(keep, u)
		}
		if len(keep) == 0 {
			delete(l.idle, in)
		} else {
			l.idle[in] = keep
		}
	}
}

// handOff gives a client connection, with the bytes read so far, to the general
// path.
func (l *loop) handOff(c *loopConn) {
	l.unregister(c)
	fd := c.fd
	c.fd = -1
	syscall.SetNonblock(fd, false) //nolint:errcheck // net.FileConn sets what it needs
	f := os.NewFile(uintptr(fd), "client")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return
	}
	if !l.p.track(nc, true) {
		nc.Close()
		return
	}
	var pc net.Conn = nc
	if c.rlen > 0 {
		pc = &peekedConn{Conn: nc, head: append([]byte(nil), c.rbuf[:c.rlen]...)}
	}
	unsent := append([]byte(nil), c.wbuf...) // an answer to an earlier pipelined request
	go func() {
		defer l.p.track(nc, false)
		if len(unsent) > 0 {
			if _, err := nc.Write(unsent); err != nil {
				nc.Close()
				return
			}
		}
		l.p.serveHTTPConn(pc)
	}()
}
