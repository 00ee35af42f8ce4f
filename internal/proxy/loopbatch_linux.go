package proxy

import "syscall"

// This file batches a round's socket operations through the loop's ring: the
// receives of the ready connections before their events are handled, the
// sends the handling produced after. A round of n events then costs about
// three system calls (epoll_wait and two io_uring_enter) instead of one per
// receive and one per send; on virtual machines, where entering the kernel is
// dear, that is most of what a proxy spends beyond the TCP work itself.

// ringEntries is how many operations one submit carries at most.
const ringEntries = 256

// loopBatching turns the ring on for new loops; tests turn it off to cover the
// path without io_uring.
var loopBatching = true

// receiveAll receives, in one submit, for every connection the events say is
// readable, into the free part of its buffer. What it read is then in the buffer
// as if read had run: a short read clears canRead (drained). An end of stream
// or an error leaves canRead set, so read meets it again and reports it. A round
// with a single such connection is left to read: one recv costs what one
// io_uring_enter does.
func (l *loop) receiveAll(evs []syscall.EpollEvent) {
	l.batch = l.batch[:0]
	for i := range evs {
		ev := &evs[i]
		fd := int(ev.Fd)
		if ev.Events&epollReadable == 0 || fd >= len(l.conns) {
			continue
		}
		c := l.conns[fd]
		if c == nil || c.gen != ev.Pad || c.readAhead || c.rlen >= len(c.rbuf) || (c.upstream && !c.connected) {
			continue // (a connect's outcome is read from SO_ERROR, which a receive would consume)
		}
		if len(l.batch) == int(l.ring.entries) {
			break // the rest are read by read as their events come
		}
		c.readAhead = true
		c.rdhup = c.rdhup || ev.Events&epollPeerShut != 0
		l.batch = append(l.batch, c)
	}
	if len(l.batch) < 2 {
		for _, c := range l.batch {
			c.readAhead = false
		}
		clear(l.batch)
		return
	}
	for i, c := range l.batch {
		c.canRead = true
		l.ring.recv(c.fd, c.rbuf[c.rlen:], uint64(i))
	}
	err := l.ring.submit(func(tag uint64, res int32) {
		c := l.batch[tag]
		switch {
		case res > 0:
			c.rlen += int(res)
			if c.rlen < len(c.rbuf) && !c.rdhup {
				c.canRead = false
			}
		case res == -int32(syscall.EAGAIN):
			c.canRead = false
		}
	})
	if err != nil { // the reads were not made: read makes them
		for _, c := range l.batch {
			c.readAhead = false
		}
	}
	clear(l.batch)
}

// sendAll sends, in one submit, the output the round queued on each connection,
// and goes on with each as a flush would (flushed). Going on can queue more
// output (a held-back side resumes), which the next pass sends.
func (l *loop) sendAll() {
	for len(l.queued) > 0 {
		conns := l.queued
		l.queued = l.spare[:0]
		for _, c := range conns {
			c.queued = false
		}
		if len(conns) == 1 { // one send costs what one io_uring_enter does
			if c := conns[0]; c.fd >= 0 && !l.flush(c) {
				c.sendFailed = true
			}
		} else {
			for start := 0; start < len(conns); start += int(l.ring.entries) {
				l.sendChunk(conns[start:min(start+int(l.ring.entries), len(conns))])
			}
		}
		for _, c := range conns {
			if c.fd >= 0 {
				failed := c.sendFailed
				c.sendFailed = false
				l.flushed(c, !failed)
			}
		}
		clear(conns)
		l.spare = conns[:0]
	}
}

// sendChunk sends the output of at most one ring's worth of connections.
func (l *loop) sendChunk(conns []*loopConn) {
	for i, c := range conns {
		if c.fd >= 0 && len(c.wbuf) > 0 {
			l.ring.send(c.fd, c.wbuf, uint64(i))
		}
	}
	err := l.ring.submit(func(tag uint64, res int32) {
		c := conns[tag]
		switch {
		case res >= 0:
			c.wbuf = c.wbuf[:copy(c.wbuf, c.wbuf[res:])]
		case res != -int32(syscall.EAGAIN): // EAGAIN: the rest goes when EPOLLOUT says so
			c.sendFailed = true
		}
	})
	if err != nil { // nothing was sent through the ring: send directly
		for _, c := range conns {
			if c.fd >= 0 && !l.flush(c) {
				c.sendFailed = true
			}
		}
	}
}
