// Command backend is the benchmark's upstream: it answers every request with a
// fixed 1 KiB body, as fast as fasthttp allows, so the proxy under test is the
// bottleneck.
package main

import (
	"bytes"
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9001", "address to listen on")
	name := flag.String("name", "green", "value of the X-Slot response header")
	flag.Parse()
	body := bytes.Repeat([]byte("x"), 1024)
	h := func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("X-Slot", *name)
		ctx.SetContentType("text/plain")
		ctx.SetBody(body)
	}
	srv := &fasthttp.Server{Handler: h, NoDefaultDate: true, NoDefaultServerHeader: true}
	if err := srv.ListenAndServe(*addr); err != nil {
		log.Fatalf("backend: %v", err)
	}
}
