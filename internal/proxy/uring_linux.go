package proxy

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// ring is an io_uring instance used as a batch of non-blocking socket
// operations: the loop queues the receives of one round of events, or the sends
// of one round, and submits them in one io_uring_enter instead of one system
// call each. Every operation carries MSG_DONTWAIT, so the kernel completes it at
// once, exactly like recv/send on a non-blocking socket (data, a short count,
// or EAGAIN); nothing is left in flight when submit returns, so buffers are
// only borrowed for the length of the call.
type ring struct {
	fd      int
	entries uint32
	sqMem   []byte // SQ and CQ rings (one mapping)
	sqeMem  []byte
	sqHead  *uint32
	sqTail  *uint32
	sqMask  uint32
	sqArray unsafe.Pointer
	sqes    unsafe.Pointer
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    unsafe.Pointer
	queued  uint32 // SQEs prepared since the last submit
}

// The io_uring system calls have the same numbers on every architecture Go
// supports on Linux (they were added after the tables were unified).
const (
	sysIOURingSetup = 425
	sysIOURingEnter = 426

	ioringOpSend = 26
	ioringOpRecv = 27

	ioringSetupSubmitAll   = 1 << 7
	ioringSetupCoopTaskrun = 1 << 8
	ioringFeatSingleMmap   = 1 << 0
	ioringEnterGetEvents   = 1 << 0
	ioringOffSQRing        = 0
	ioringOffSQEs          = 0x10000000

	sqeSize = 64
	cqeSize = 16
)

type ioringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// sqe is the kernel's struct io_uring_sqe, as far as send and recv use it.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// The layouts must match the kernel's byte for byte.
var (
	_ [sqeSize]byte = [unsafe.Sizeof(sqe{})]byte{}
	_ [cqeSize]byte = [unsafe.Sizeof(cqe{})]byte{}
	_ [120]byte     = [unsafe.Sizeof(ioringParams{})]byte{}
)

// newRing sets up an io_uring with room for entries operations per submit.
// It fails where io_uring is missing or forbidden (old kernels, seccomp
// profiles, kernel.io_uring_disabled); the loop then makes one system call per
// operation.
func newRing(entries uint32) (*ring, error) {
	var p ioringParams
	p.flags = ioringSetupSubmitAll | ioringSetupCoopTaskrun
	fd, _, e := syscall.RawSyscall(sysIOURingSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e == syscall.EINVAL { // a kernel older than 5.19 does not know the flags
		p = ioringParams{}
		fd, _, e = syscall.RawSyscall(sysIOURingSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	}
	if e != 0 {
		return nil, os.NewSyscallError("io_uring_setup", e)
	}
	r := &ring{fd: int(fd), entries: p.sqEntries}
	if p.features&ioringFeatSingleMmap == 0 {
		r.close()
		return nil, fmt.Errorf("io_uring: the kernel maps its rings separately (older than 5.4)")
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*cqeSize)
	mem, err := syscall.Mmap(r.fd, ioringOffSQRing, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, os.NewSyscallError("mmap io_uring rings", err)
	}
	r.sqMem = mem
	sqes, err := syscall.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries*sqeSize), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, os.NewSyscallError("mmap io_uring entries", err)
	}
	r.sqeMem = sqes
	base := unsafe.Pointer(&mem[0])
	r.sqHead = (*uint32)(unsafe.Add(base, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	r.sqArray = unsafe.Add(base, p.sqOff.array)
	r.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	r.cqes = unsafe.Add(base, p.cqOff.cqes)
	r.sqes = unsafe.Pointer(&sqes[0])
	return r, nil
}

func (r *ring) close() {
	if r.sqeMem != nil {
		syscall.Munmap(r.sqeMem) //nolint:errcheck // nothing to do about it
	}
	if r.sqMem != nil {
		syscall.Munmap(r.sqMem) //nolint:errcheck // nothing to do about it
	}
	syscall.Close(r.fd)
}

// recv queues a receive into b; send queues a send of b. tag comes back with
// the result. b must stay as it is until submit returns.
func (r *ring) recv(fd int, b []byte, tag uint64) {
	r.prepare(ioringOpRecv, fd, b, syscall.MSG_DONTWAIT, tag)
}

func (r *ring) send(fd int, b []byte, tag uint64) {
	r.prepare(ioringOpSend, fd, b, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, tag)
}

func (r *ring) prepare(op uint8, fd int, b []byte, flags uint32, tag uint64) {
	tail := *r.sqTail + r.queued // only this goroutine moves the tail
	idx := tail & r.sqMask
	e := (*sqe)(unsafe.Add(r.sqes, uintptr(idx)*sqeSize))
	*e = sqe{opcode: op, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(&b[0]))), len: uint32(len(b)), msgFlags: flags, userData: tag}
	*(*uint32)(unsafe.Add(r.sqArray, uintptr(idx)*4)) = idx
	r.queued++
}

// submit hands the queued operations to the kernel, waits for all of them
// (they complete at once) and calls done with each tag and result: a count, or
// a negated errno.
func (r *ring) submit(done func(tag uint64, res int32)) error {
	n := r.queued
	if n == 0 {
		return nil
	}
	atomic.StoreUint32(r.sqTail, *r.sqTail+n)
	r.queued = 0
	for {
		unsubmitted := atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead)
		ready := atomic.LoadUint32(r.cqTail) - *r.cqHead
		if unsubmitted == 0 && ready >= n {
			break
		}
		_, _, e := syscall.RawSyscall6(sysIOURingEnter, uintptr(r.fd), uintptr(unsubmitted), uintptr(n-ready), ioringEnterGetEvents, 0, 0)
		if e != 0 && e != syscall.EINTR && e != syscall.EAGAIN && e != syscall.EBUSY {
			return os.NewSyscallError("io_uring_enter", e)
		}
	}
	head := *r.cqHead
	tail := atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		c := (*cqe)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*cqeSize))
		done(c.userData, c.res)
	}
	atomic.StoreUint32(r.cqHead, head)
	return nil
}
