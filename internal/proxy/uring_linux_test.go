package proxy

import (
	"bytes"
	"syscall"
	"testing"
)

// TestRingCompletesAtOnce checks what the loop relies on: with MSG_DONTWAIT a
// receive or send through the ring completes within submit, like recv/send on a
// non-blocking socket — data, a short count, or EAGAIN, never a wait.
func TestRingCompletesAtOnce(t *testing.T) {
	r, err := newRing(8)
	if err != nil {
		// Not a missing server but a kernel without io_uring (or a seccomp profile
		// forbidding it): the loop runs without the ring there, which
		// TestLoopWithoutIOURing tests.
		t.Skipf("io_uring is not available here: %v", err)
	}
	defer r.close()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])

	results := map[uint64]int32{}
	collect := func(tag uint64, res int32) { results[tag] = res }

	buf := make([]byte, 64)
	r.recv(fds[1], buf, 1) // nothing to read yet
	r.send(fds[0], []byte("hello"), 2)
	if err := r.submit(collect); err != nil {
		t.Fatal(err)
	}
	if results[1] != -int32(syscall.EAGAIN) {
		t.Fatalf("recv on an empty socket: %d, want -EAGAIN", results[1])
	}
	if results[2] != 5 {
		t.Fatalf("send: %d, want 5", results[2])
	}
	r.recv(fds[1], buf, 3)
	if err := r.submit(collect); err != nil {
		t.Fatal(err)
	}
	if results[3] != 5 || !bytes.Equal(buf[:5], []byte("hello")) {
		t.Fatalf("recv: %d %q, want 5 \"hello\"", results[3], buf[:max(results[3], 0)])
	}

	// Fill the socket: the last sends come back short or EAGAIN, not waiting.
	big := make([]byte, 1<<20)
	sawAgain := false
	for i := 0; i < 64 && !sawAgain; i++ {
		r.send(fds[0], big, 4)
		if err := r.submit(collect); err != nil {
			t.Fatal(err)
		}
		sawAgain = results[4] == -int32(syscall.EAGAIN)
	}
	if !sawAgain {
		t.Fatal("sends into a full socket never came back EAGAIN")
	}

	// A closed descriptor is an error result, not a failed submit.
	syscall.Close(fds[1])
	r.send(fds[0], []byte("x"), 5)
	if err := r.submit(collect); err != nil {
		t.Fatal(err)
	}
	if results[5] >= 0 {
		t.Fatalf("send to a closed peer: %d, want an error", results[5])
	}
}

// TestLoopWithoutIOURing runs the event loop's tests again with the ring off:
// the path a kernel without io_uring (or a seccomp profile forbidding it) takes,
// one recv and one send system call per operation.
func TestLoopWithoutIOURing(t *testing.T) {
	loopBatching = false
	defer func() { loopBatching = true }()
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"KeepAliveAndPipelining", TestLoopKeepAliveAndPipelining},
		{"HopByHopAndForwarded", TestLoopHopByHopAndForwarded},
		{"ResponseFraming", TestLoopResponseFraming},
		{"UpstreamMisbehaves", TestLoopUpstreamMisbehaves},
		{"RetriesAKeptAliveConnectionTheInstanceClosed", TestRetriesAKeptAliveConnectionTheInstanceClosed},
		{"LargeBodiesBothWays", TestLoopLargeBodiesBothWays},
		{"HandsOffWhatItDoesNotTake", TestLoopHandsOffWhatItDoesNotTake},
		{"HonoursMaxConnsPerInstance", TestLoopHonoursMaxConnsPerInstance},
		{"ClientThatShutsItsSide", TestLoopClientThatShutsItsSide},
		{"BodyAlreadyInTheSocket", TestLoopBodyAlreadyInTheSocket},
		{"HeadTooLarge", TestLoopHeadTooLarge},
		{"InstanceKilledMidLoad", TestInstanceKilledMidLoad},
	} {
		t.Run(tc.name, tc.run)
	}
}

// TestLoopUsesTheRing checks the batching is really on where io_uring works, so
// the rest of the suite tests it.
func TestLoopUsesTheRing(t *testing.T) {
	r, err := newRing(8)
	if err != nil {
		t.Skipf("io_uring is not available here (the loop runs without the ring): %v", err)
	}
	r.close()
	p := New(Config{})
	defer p.Close()
	if err := p.startLoops(); err != nil {
		t.Fatal(err)
	}
	for i, l := range p.loops.loops {
		if l.ring == nil {
			t.Fatalf("loop %d has no ring", i)
		}
	}
}
