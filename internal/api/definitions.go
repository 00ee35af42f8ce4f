package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// storeKind maps a document kind to the store's definition kind.
func storeKind(docKind string) (store.Kind, error) {
	switch docKind {
	case spec.KindWorkflow:
		return store.KindWorkflow, nil
	case spec.KindEnvironment:
		return store.KindEnvironment, nil
	case spec.KindPipeline:
		return store.KindPipeline, nil
	}
	return "", badRequest("kind", "unknown kind %q: want %s or %s", docKind, spec.KindWorkflow, spec.KindEnvironment)
}

// apply validates every document of the body and, unless dryRun=true, stores each as
// the next version of its definition. Nothing is stored when any document is invalid.
func (h *handler) apply(w http.ResponseWriter, r *http.Request) {
	dryRun, err := boolParam(r, "dryRun")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if isJSON(r) { // several files, all or nothing (applyfiles.go)
		h.applyFiles(w, r, dryRun)
		return
	}
	src, err := readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	file := r.URL.Query().Get("file")
	if file == "" {
		file = "request"
	}
	docs, err := spec.ParseDocuments(file, src)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(docs) == 0 {
		h.fail(w, r, badRequest("", "%s: no documents", file))
		return
	}
	h.storeDocuments(w, r, docs, dryRun)
}

// storeDocuments authorises every document, then stores them in order and answers
// with what each became; the audit entry's summary lists them.
func (h *handler) storeDocuments(w http.ResponseWriter, r *http.Request, docs []spec.Document, dryRun bool) {
	if err := h.authorizeApply(r, docs, dryRun); err != nil {
		h.fail(w, r, err)
		return
	}
	if h.CheckSettings != nil {
		if ps := h.CheckSettings(docs); len(ps) > 0 {
			h.fail(w, r, ps)
			return
		}
	}
	if err := h.checkPipelines(r.Context(), docs); err != nil {
		h.fail(w, r, err)
		return
	}
	resp := ApplyResponse{DryRun: dryRun, Results: make([]ApplyResult, 0, len(docs))}
	for _, doc := range docs {
		res, err := h.applyOne(r, doc, dryRun)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		resp.Results = append(resp.Results, res)
		n := note(r.Context())
		n.summary += fmt.Sprintf("%s%s %s v%d %s", map[bool]string{true: "; "}[n.summary != ""],
			res.Kind, res.Name, res.Version, res.Action)
	}
	writeJSON(w, http.StatusOK, resp)
}

// authorizeApply checks every document before any is stored: an Environment needs
// admin in it, a Workflow (shared by every environment) admin on "*"; a dry run needs
// only viewer. It names the documents in the audit entry.
func (h *handler) authorizeApply(r *http.Request, docs []spec.Document, dryRun bool) error {
	need, targets, env := roleAdmin, make([]string, 0, len(docs)), ""
	if dryRun {
		need = roleViewer
		note(r.Context()).skip = true
	}
	for i, doc := range docs {
		kind, err := storeKind(doc.Kind)
		if err != nil {
			return err
		}
		scope := definitionScope(kind, doc.Name)
		if i == 0 || env == scope {
			env = scope
		} else {
			env = allEnvironments
		}
		targets = append(targets, string(kind)+"/"+doc.Name)
		check := func() error { return h.authorize(r, need, scope, "applying "+string(kind)+" "+doc.Name) }
		if dryRun && scope == allEnvironments { // validating a shared workflow changes nothing
			check = func() error { return h.authorizeAny(r, roleViewer, "validating workflow "+doc.Name) }
		}
		if err := check(); err != nil {
			noted(r.Context(), "apply", strings.Join(targets, ","), env)
			return err
		}
	}
	noted(r.Context(), "apply", strings.Join(targets, ","), env)
	return nil
}

// authorizeRead lets a viewer of an environment read it; workflows are readable by
// anyone who views some environment.
func (h *handler) authorizeRead(r *http.Request, k store.Kind, name string) error {
	if k == store.KindEnvironment {
		return h.authorize(r, roleViewer, name, "reading environment "+name)
	}
	return h.authorizeAny(r, roleViewer, "reading workflows")
}

func (h *handler) applyOne(r *http.Request, doc spec.Document, dryRun bool) (ApplyResult, error) {
	kind, err := storeKind(doc.Kind)
	if err != nil {
		return ApplyResult{}, err
	}
	res := ApplyResult{Kind: doc.Kind, Name: doc.Name}
	for _, w := range spec.Warnings(doc) {
		res.Warnings = append(res.Warnings, w.String())
	}
	cur, err := h.Store.GetDefinition(r.Context(), kind, doc.Name, 0)
	switch {
	case errors.Is(err, store.ErrNotFound):
		res.Action = ActionCreated
	case err != nil:
		return res, fmt.Errorf("apply %s %s: %w", doc.Kind, doc.Name, err)
	case cur.Source == string(doc.Source):
		res.Action, res.Version = ActionUnchanged, cur.Version
	default:
		res.Action, res.Version = ActionConfigured, cur.Version
	}
	if dryRun {
		if h.DryRun != nil {
			if err := h.DryRun(r.Context(), doc); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	stored, changed, err := h.Store.PutDefinition(r.Context(), store.Definition{Kind: kind, Name: doc.Name,
		Source: string(doc.Source), CreatedAt: h.Now().UTC(), CreatedBy: IdentityFrom(r.Context()).User})
	if err != nil {
		return res, fmt.Errorf("apply %s %s: %w", doc.Kind, doc.Name, err)
	}
	res.Version = stored.Version
	if !changed {
		res.Action = ActionUnchanged
	}
	return res, nil
}

func (h *handler) listDefinitions(k store.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rs, err := h.grants(r.Context())
		if err == nil && k == store.KindWorkflow {
			err = h.authorizeAny(r, roleViewer, "listing workflows")
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		defs, err := h.Store.ListDefinitions(r.Context(), k)
		if err != nil {
			h.fail(w, r, fmt.Errorf("list %ss: %w", k, err))
			return
		}
		visible := defs[:0]
		for _, d := range defs {
			if k != store.KindEnvironment || rs.has(roleViewer, d.Name) {
				visible = append(visible, d)
			}
		}
		writeJSON(w, http.StatusOK, definitionList(visible))
	}
}

func (h *handler) getDefinition(k store.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.writeDefinition(w, r, k, 0)
	}
}

func (h *handler) getDefinitionVersion(k store.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
		if err != nil || v < 1 {
			h.fail(w, r, badRequest("version", "version %q is not a positive integer", r.PathValue("version")))
			return
		}
		h.writeDefinition(w, r, k, v)
	}
}

func (h *handler) writeDefinition(w http.ResponseWriter, r *http.Request, k store.Kind, version int64) {
	name := r.PathValue("name")
	if err := h.authorizeRead(r, k, name); err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.Store.GetDefinition(r.Context(), k, name, version)
	if err != nil {
		h.fail(w, r, definitionError(k, name, version, err))
		return
	}
	writeJSON(w, http.StatusOK, definitionOf(d, true))
}

func (h *handler) definitionHistory(k store.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := h.authorizeRead(r, k, name); err != nil {
			h.fail(w, r, err)
			return
		}
		defs, err := h.Store.DefinitionHistory(r.Context(), k, name)
		if err == nil && len(defs) == 0 {
			err = store.ErrNotFound
		}
		if err != nil {
			h.fail(w, r, definitionError(k, name, 0, err))
			return
		}
		writeJSON(w, http.StatusOK, definitionList(defs))
	}
}

func (h *handler) deleteDefinition(k store.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		scope := definitionScope(k, name)
		noted(r.Context(), "delete", string(k)+"/"+name, scope).summary = "deleted " + string(k) + " " + name
		if err := h.authorize(r, roleAdmin, scope, "deleting "+string(k)+" "+name); err != nil {
			h.fail(w, r, err)
			return
		}
		err := h.Store.DeleteDefinition(r.Context(), k, name, IdentityFrom(r.Context()).User, h.Now().UTC())
		if err != nil {
			h.fail(w, r, definitionError(k, name, 0, err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// definitionError names the definition in a store error; not-found becomes a message
// a person can act on.
func definitionError(k store.Kind, name string, version int64, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		msg := fmt.Sprintf("%s %q not found", k, name)
		if version > 0 {
			msg = fmt.Sprintf("%s %q has no version %d", k, name, version)
		}
		return &apiError{status: http.StatusNotFound, code: CodeNotFound, msg: msg}
	}
	return fmt.Errorf("%s %s: %w", k, name, err)
}

func definitionList(defs []store.Definition) DefinitionList {
	out := DefinitionList{Items: make([]Definition, 0, len(defs))}
	for _, d := range defs {
		out.Items = append(out.Items, definitionOf(d, false))
	}
	return out
}

// boolParam reads an optional boolean query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest(name, "%s=%q is not a boolean", name, s)
	}
	return b, nil
}
