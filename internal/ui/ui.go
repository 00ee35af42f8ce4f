package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every UI response: scripts, styles and
// connections only from the server itself, no inline scripts or event handlers.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// contentTypes maps the extensions the UI ships to their media types, so serving does
// not depend on the machine's MIME tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
	".json": "application/json",
	".yaml": "application/yaml; charset=utf-8",
}

// file is one embedded asset, read once.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the embedded UI.
type Handler struct {
	files   map[string]*file // by URL path, e.g. "/js/app.js"
	modTime time.Time
}

// New returns the UI's handler, with every embedded file read and hashed up front.
func New() (*Handler, error) {
	root, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	h := &Handler{files: map[string]*file{}, modTime: time.Now()}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil // licences and other files that are not served
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.files["/"+p] = &file{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: read embedded files: %w", err)
	}
	if h.files["/index.html"] == nil {
		return nil, fmt.Errorf("ui: index.html is missing from the embedded files")
	}
	return h, nil
}

// ServeHTTP answers GET and HEAD with an embedded file, or with index.html for a page
// path (one without a file extension) so the browser-side router can render it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	f, ok := h.files[p]
	switch {
	case ok && p != "/index.html":
		w.Header().Set("Cache-Control", cachePolicy(p))
	case !ok && path.Ext(p) != "":
		http.NotFound(w, r)
		return
	default:
		f = h.files["/index.html"]
		w.Header().Set("Cache-Control", "no-cache")
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("Referrer-Policy", "same-origin")
	http.ServeContent(w, r, "", h.modTime, bytes.NewReader(f.body))
}

// cachePolicy lets browsers keep vendored files, whose names carry their version,
// for a year; the UI's own files are revalidated by ETag on every load so a new
// sluice binary takes effect at once.
func cachePolicy(p string) string {
	if strings.HasPrefix(p, "/vendor/") {
		return "public, max-age=31536000, immutable"
	}
	return "no-cache"
}
