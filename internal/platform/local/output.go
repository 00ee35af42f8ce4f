package local

import (
	"bufio"
	"errors"
	"io"
	"os"
	"time"
)

const (
	tailPoll     = 50 * time.Millisecond
	maxLine      = 64 << 10 // longer lines are passed on in pieces
	keepLastLine = 5
)

// tail follows one output file of a process and passes each line to Options.Output,
// starting at offset (-1: the current end, for adopted processes). It ends after the
// process has exited and the file is drained, or when the platform detaches.
func (p *Platform) tail(in *instance, pr *proc, stream, path string, offset int64) {
	defer p.bg.Done()
	defer pr.tailers.Done()
	f, err := os.Open(path)
	if err != nil {
		p.log.Warn("local: cannot read instance output", "slot", in.ref.String(), "instance", in.index, "path", path, "err", err)
		return
	}
	defer f.Close()
	if offset < 0 {
		_, err = f.Seek(0, io.SeekEnd)
	} else {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		return
	}
	r := bufio.NewReaderSize(f, 32<<10)
	var partial []byte
	for {
		partial = p.readLines(in, stream, r, partial)
		select {
		case <-pr.exited:
			partial = p.readLines(in, stream, r, partial)
			if len(partial) > 0 {
				p.emit(in, stream, string(partial))
			}
			return
		case <-p.ctx.Done():
			return
		case <-time.After(tailPoll):
		}
		if in.detach.Load() && in.ctx.Err() != nil {
			return
		}
	}
}

// readLines passes on every complete line available in r and returns the incomplete
// rest, to be continued by the next read.
func (p *Platform) readLines(in *instance, stream string, r *bufio.Reader, partial []byte) []byte {
	for {
		chunk, err := r.ReadSlice('\n')
		partial = append(partial, chunk...)
		switch {
		case err == nil:
			p.emit(in, stream, string(partial[:len(partial)-1]))
			partial = partial[:0]
		case errors.Is(err, bufio.ErrBufferFull):
			if len(partial) >= maxLine {
				p.emit(in, stream, string(partial))
				partial = partial[:0]
			}
		default: // io.EOF: wait for more
			return partial
		}
	}
}

// emit records a line as the instance's latest and passes it to Options.Output.
func (p *Platform) emit(in *instance, stream, line string) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	line = in.spec.mask.String(line) // before it is kept, passed on, stored or streamed
	in.outMu.Lock()
	in.last = append(in.last, line)
	if len(in.last) > keepLastLine {
		in.last = in.last[1:]
	}
	in.outMu.Unlock()
	if p.opts.Output != nil {
		p.opts.Output(in.ref, in.index, stream, line)
	}
}

// drainOutput waits briefly for the tailers to read what the exited process wrote, so
// crash reasons can quote its last line.
func (p *Platform) drainOutput(pr *proc) {
	done := make(chan struct{})
	go func() { pr.tailers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}
