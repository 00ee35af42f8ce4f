package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/internal/spec"
)

// examplesDir holds the example documents the builder must open and save unchanged.
var examplesDir = filepath.Join("..", "..", "examples")

// TestTemplatesMatchExamples keeps the builder's templates (served from
// static/templates) identical to the examples they copy.
func TestTemplatesMatchExamples(t *testing.T) {
	for tmpl, example := range map[string]string{
		"blue-green-canary.yaml": "blue-green-canary.yaml",
		"local.yaml":             filepath.Join("environments", "local.yaml"),
		"istio.yaml":             filepath.Join("environments", "istio.yaml"),
	} {
		got, err := os.ReadFile(filepath.Join("static", "templates", tmpl))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(examplesDir, example))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("static/templates/%s differs from examples/%s: copy it again (cp examples/%s internal/ui/static/templates/)", tmpl, example, example)
		}
	}
}

// exampleFiles lists every example document, environments first (workflows name them).
func exampleFiles(t *testing.T) []string {
	t.Helper()
	envs, err := filepath.Glob(filepath.Join(examplesDir, "environments", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wfs, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) < 2 || len(wfs) < 3 {
		t.Fatalf("found %d environments and %d workflows under %s", len(envs), len(wfs), examplesDir)
	}
	return append(envs, wfs...)
}

// exampleDoc is one document of an example file: its kind, name and source.
type exampleDoc struct {
	kind, name, source string
}

func readExample(t *testing.T, file string) exampleDoc {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := spec.ParseDocuments(filepath.Base(file), src)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, the round trip expects one", file, len(docs))
	}
	return exampleDoc{kind: docs[0].Kind, name: docs[0].Name, source: string(src)}
}

// editPath is where the builder edits a stored definition.
func (d exampleDoc) editPath() string {
	if d.kind == spec.KindEnvironment {
		return "/environments/" + d.name + "/edit"
	}
	return "/workflows/" + d.name + "/edit"
}

// TestBrowserBuilderRoundTrip opens every example workflow and environment in the
// builder, edits it through the form and back (a field changed, then restored),
// and checks that what the builder would save is the example byte for byte,
// comments, key order and alignment included, and that its diff preview says
// nothing changed.
func TestBrowserBuilderRoundTrip(t *testing.T) {
	chromium(t)
	s := startSluiceUI(t)
	files := exampleFiles(t)
	var docs []exampleDoc
	for _, f := range files {
		d := readExample(t, f)
		if d.kind == spec.KindPipeline {
			continue // pipelines have no builder
		}
		s.call(t, "POST", "/api/v1/apply?file="+filepath.Base(f), "admin", "application/yaml", d.source, nil)
		docs = append(docs, d)
	}
	b := newBrowser(t, s.url)
	for _, d := range docs {
		var stored struct{ Source string }
		s.call(t, "GET", "/api/v1/"+strings.ToLower(d.kind)+"s/"+d.name, "admin", "", "", &stored)
		if stored.Source != d.source {
			t.Fatalf("%s %s: the server stored a different source than the file", d.kind, d.name)
		}
		b.do("open "+d.name, chromedp.Navigate(s.url+d.editPath()), chromedp.WaitVisible(css("#builder-form")))
		b.wait("form of "+d.name, `document.querySelector('[data-path="metadata.name"]')?.value !== undefined`)
		if got := builderYAML(b); got != d.source {
			t.Errorf("%s %s: opened as\n%s\nwant the stored source unchanged:\n%s", d.kind, d.name, got, d.source)
		}
		// A real edit through the form, undone: the document is re-serialised.
		b.do("back to the form", chromedp.Click(css("#tab-form")))
		fill(b, "metadata.name", d.name+"-changed")
		if got := builderYAML(b); !strings.Contains(got, "name: "+d.name+"-changed") {
			b.fail("%s: the form's edit did not reach the YAML tab:\n%s", d.name, got)
		}
		b.do("back to the form", chromedp.Click(css("#tab-form")))
		fill(b, "metadata.name", d.name)
		got := builderYAML(b)
		if got != d.source {
			t.Errorf("%s %s: after an edit and its undo the builder holds\n%s\nwant\n%s", d.kind, d.name, got, d.source)
		}
		b.do("back to the form", chromedp.Click(css("#tab-form")))
		b.wait("valid "+d.name, `document.querySelector('#builder-status')?.dataset.valid === 'true'`)
		b.do("review "+d.name, chromedp.Click(css("#builder-save")), chromedp.WaitVisible(css("#builder-diff")))
		var changed string
		b.eval(`document.querySelector('#builder-confirm').textContent`, &changed)
		if changed != "No changes" {
			b.fail("%s: the diff preview of an unchanged document offers %q", d.name, changed)
		}
		b.do("close the preview", chromedp.Click(css("#builder-cancel")))
	}
	b.checkClean()
}

// builderYAML shows the YAML tab and returns its text.
func builderYAML(b *browser) string {
	b.t.Helper()
	b.do("YAML tab", chromedp.Click(css("#tab-yaml")), chromedp.WaitVisible(css("#builder-yaml")))
	var s string
	b.eval(`document.querySelector('#builder-yaml').value`, &s)
	return s
}

// fill types value into the form field for a document path, as a person would:
// select it, type, and leave it (which commits the change). Selects and checkboxes
// are chosen; a field inside a closed "More fields" fold is unfolded first.
func fill(b *browser, path, value string) {
	b.t.Helper()
	sel := fmt.Sprintf(`[data-path=%q]`, path)
	var tag string
	b.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return 'none';
		const d = el.closest('details'); if (d) d.open = true; el.scrollIntoView({ block: 'center' }); return el.tagName + ':' + (el.type || ''); })()`, sel), &tag)
	switch tag {
	case "none":
		b.fail("no form field for %s", path)
	case "SELECT:select-one":
		b.do("choose "+path, chromedp.SetValue(css(sel), value))
		b.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (el.value !== %q) return false; el.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`, sel, value), nil)
		var got string
		b.eval(fmt.Sprintf(`document.querySelector(%q)?.value ?? ''`, sel), &got)
		if got != value {
			b.fail("%s offers no %q", path, value)
		}
	case "INPUT:checkbox":
		var checked bool
		b.eval(fmt.Sprintf(`document.querySelector(%q).checked`, sel), &checked)
		if checked != (value == "true") {
			b.do("tick "+path, chromedp.Click(css(sel)))
		}
	default:
		b.do("type "+path, clear(sel), chromedp.Focus(css(sel)), chromedp.SendKeys(css(sel), value))
		b.eval(fmt.Sprintf(`(() => { document.querySelector(%q).blur(); return true; })()`, sel), nil)
	}
}

// click presses a button found by selector.
func click(b *browser, what, sel string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%q); el?.closest('details')?.setAttribute('open', ''); el?.scrollIntoView({ block: 'center' }); return !!el; })()`, sel), nil)
	b.do(what, chromedp.Click(css(sel)))
}

// buildThroughForms fills the builder's form with the YAML document src through its
// fields and buttons only: scalars typed, lists typed comma-separated, choices
// selected, items added with the Add buttons and steps with the Add step menu.
func buildThroughForms(b *browser, src string) {
	b.t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		b.t.Fatal(err)
	}
	top := root.Content[0]
	for i := 0; i < len(top.Content); i += 2 {
		k, v := top.Content[i].Value, top.Content[i+1]
		if k == "apiVersion" || k == "kind" { // the blank document has them
			continue
		}
		walk(b, []string{k}, v)
	}
}

// walk fills the value v at path.
func walk(b *browser, path []string, v *yaml.Node) {
	b.t.Helper()
	key := strings.Join(path, ".")
	last := path[len(path)-1]
	switch {
	case v.Kind == yaml.ScalarNode:
		fill(b, key, v.Value)
	case v.Kind == yaml.SequenceNode && (len(v.Content) == 0 || v.Content[0].Kind == yaml.ScalarNode):
		vals := make([]string, len(v.Content))
		for i, c := range v.Content {
			vals[i] = c.Value
		}
		fill(b, key, strings.Join(vals, ", "))
	case v.Kind == yaml.SequenceNode && last == "steps":
		phase := path[len(path)-2]
		for i, st := range v.Content {
			typ := stepType(st)
			b.do("step type", chromedp.SetValue(css("#add-step-type-"+phase), typ))
			click(b, "add a "+typ+" step", fmt.Sprintf(`[data-add-step=%q]`, phase))
			b.wait("the new step", fmt.Sprintf(`document.querySelector('[data-step="%s.%d"]') !== null`, key, i))
			walkMap(b, append(path, fmt.Sprint(i)), st, typ)
		}
	case v.Kind == yaml.SequenceNode:
		for i, item := range v.Content {
			click(b, "add to "+key, fmt.Sprintf(`[data-add=%q]`, key))
			b.wait("the new item", fmt.Sprintf(`document.querySelector('[data-path="%s.%d.name"]') !== null`, key, i))
			walkMap(b, append(path, fmt.Sprint(i)), item, "")
		}
	case v.Kind == yaml.MappingNode && last == "onFailure":
		b.t.Fatalf("%s: a failure strategy as a map is not in the seed", key)
	case v.Kind == yaml.MappingNode:
		walkMap(b, path, v, "")
	default:
		b.t.Fatalf("%s: cannot fill a %v", key, v.Kind)
	}
}

// walkMap fills every key of the map m at path; typ is a step's type, whose empty
// body the Add step button already made.
func walkMap(b *browser, path []string, m *yaml.Node, typ string) {
	b.t.Helper()
	for i := 0; i < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		if k == typ && v.Kind == yaml.MappingNode && len(v.Content) == 0 {
			continue
		}
		walk(b, append(append([]string(nil), path...), k), v)
	}
}

var stepTypes = []string{"deploy", "service", "traffic", "verify", "loadtest", "approval", "wait", "webhook", "promote", "scaledown"}

func stepType(st *yaml.Node) string {
	for i := 0; i < len(st.Content); i += 2 {
		for _, t := range stepTypes {
			if st.Content[i].Value == t {
				return t
			}
		}
	}
	return ""
}

// sameDocument compares two YAML documents by their data: comments, styles and key
// order aside.
func sameDocument(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := yaml.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("saved document: %v", err)
	}
	if err := yaml.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(g, w)
}

// viewShot saves what the window shows after scrolling sel to its top, and with -docs
// writes it into docs/ui/ too (the builder's pages are too long for a full-page shot).
func viewShot(b *browser, name, sel string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(() => { document.querySelector(%q)?.scrollIntoView({ block: 'start' }); window.scrollBy(0, -70); return true; })()`, sel), nil)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if *updateDocs {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "ui", name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}
