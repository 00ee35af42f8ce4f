package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/sluicehq/sluice/internal/spec"
)

// ApplyFilesRequest is the JSON form of POST /api/v1/apply: several files applied all
// or nothing. Every document of every file is parsed, validated and authorised before
// any is stored; when one fails, the answer lists the problems of every file and
// nothing is stored.
type ApplyFilesRequest struct {
	Files []ApplyFile `json:"files"`
}

// ApplyFile is one file of an ApplyFilesRequest.
type ApplyFile struct {
	Name   string `json:"name"`   // the file's name, used in problem positions
	Source string `json:"source"` // its YAML, one or more documents
}

// maxApplyFiles bounds the files of one request.
const maxApplyFiles = 100

// applyFiles serves the JSON form of an apply.
func (h *handler) applyFiles(w http.ResponseWriter, r *http.Request, dryRun bool) {
	var req ApplyFilesRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	switch {
	case len(req.Files) == 0:
		h.fail(w, r, badRequest("files", "files: give at least one file"))
		return
	case len(req.Files) > maxApplyFiles:
		h.fail(w, r, badRequest("files", "files: %d files; at most %d in one apply", len(req.Files), maxApplyFiles))
		return
	}
	docs, err := parseFiles(req.Files)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.storeDocuments(w, r, docs, dryRun)
}

// parseFiles parses every file and returns their documents, or Problems listing
// every problem of every file, a definition named in two places included.
func parseFiles(files []ApplyFile) ([]spec.Document, error) {
	var all []spec.Document
	var probs spec.Problems
	seen := map[string]spec.Pos{}
	for i, f := range files {
		if f.Name == "" {
			f.Name = fmt.Sprintf("files[%d]", i)
		}
		docs, err := spec.ParseDocuments(f.Name, []byte(f.Source))
		var ps spec.Problems
		switch {
		case errors.As(err, &ps):
			probs = append(probs, ps...)
		case err != nil:
			probs = append(probs, spec.Problem{Pos: spec.Pos{File: f.Name}, Message: err.Error()})
		}
		for _, d := range docs {
			key := d.Kind + "/" + d.Name
			if first, dup := seen[key]; dup {
				probs = append(probs, spec.Problem{Pos: d.Pos, Message: fmt.Sprintf(
					"%s %s is also defined at %s; apply one definition of it", d.Kind, d.Name, first)})
				continue
			}
			seen[key] = d.Pos
			all = append(all, d)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return all, nil
}

// isJSON reports whether the request body is JSON.
func isJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json"
}
