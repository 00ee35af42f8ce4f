// Package ui is sluice's web UI: static HTML, CSS and JavaScript modules embedded in
// the binary and served by one http.Handler, with index.html as the answer to every
// page path so the browser-side router can show it.
package ui
