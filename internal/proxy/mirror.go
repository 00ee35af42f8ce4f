package proxy

import (
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/sluicehq/sluice/internal/platform"
)

// mirrorJob is one copied request waiting to be sent.
type mirrorJob struct {
	req *fasthttp.Request
	in  *instance
}

// maybeMirror queues a copy of the request for the mirror slot when the request
// went elsewhere, the dice say so and its body is small and buffered. It never
// blocks: a full queue drops the copy.
func (p *Proxy) maybeMirror(t *table, ctx *fasthttp.RequestCtx, routed platform.Slot) {
	mr := t.mirror
	if routed == mr.Slot || rand.IntN(100) >= mr.Percent || ctx.Request.IsBodyStream() {
		return
	}
	in := t.pools[slotIndex(mr.Slot)].pick(nil)
	if in == nil {
		return
	}
	m := &p.metrics[slotIndex(mr.Slot)]
	req := fasthttp.AcquireRequest()
	ctx.Request.CopyTo(req)
	select {
	case p.mirrorQ <- mirrorJob{req: req, in: in}:
	default:
		fasthttp.ReleaseRequest(req)
		m.mirrorDropped.Add(1)
	}
}

// maybeMirrorStd queues a copy of a bodiless, non-gRPC request that arrived over
// HTTP/2; the copy goes to the mirror slot over HTTP/1.1.
func (p *Proxy) maybeMirrorStd(t *table, r *http.Request, routed platform.Slot) {
	mr := t.mirror
	if routed == mr.Slot || rand.IntN(100) >= mr.Percent || (r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0) ||
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		return
	}
	in := t.pools[slotIndex(mr.Slot)].pick(nil)
	if in == nil {
		return
	}
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.RequestURI())
	req.Header.SetHost(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	select {
	case p.mirrorQ <- mirrorJob{req: req, in: in}:
	default:
		fasthttp.ReleaseRequest(req)
		p.metrics[slotIndex(mr.Slot)].mirrorDropped.Add(1)
	}
}

// mirrorLoop sends queued copies and discards their responses until the proxy
// closes.
func (p *Proxy) mirrorLoop() {
	defer p.wg.Done()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	for {
		select {
		case <-p.done:
			return
		case j := <-p.mirrorQ:
			err := j.in.mirror.Do(j.req, resp)
			fasthttp.ReleaseRequest(j.req)
			if err == nil {
				p.metrics[slotIndex(j.in.slot)].mirrored.Add(1)
			}
			resp.Reset()
		}
	}
}
