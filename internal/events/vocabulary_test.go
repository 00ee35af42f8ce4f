package events_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/events"
)

// repoRoot is the repository, two levels up from this package.
const repoRoot = "../.."

// producerDirs hold the code that writes events: the engine and the step runners
// it hosts (verify, loadtest), notify's console lines about failed sends, and the
// pipeline runner's log lines.
var producerDirs = []string{"internal/engine", "internal/verify", "internal/loadtest", "internal/notify", "internal/pipeline"}

// typeUse is one reference to an events.TypeX constant in Go source.
type typeUse struct {
	name     string // constant name, e.g. TypeStatus
	at       string // file:line
	consumer bool   // compared with (==, !=, case): someone listens to it
}

// TestGoConsumersListenToEmittedTypes parses every non-test Go file of the
// repository: each event type a consumer compares with must be emitted by a
// producer, each declared type must have a producer, and no consumer compares an
// event's Type with a string literal instead of the constants.
func TestGoConsumersListenToEmittedTypes(t *testing.T) {
	uses, literals := scanGo(t)
	produced := map[string]bool{}
	for _, u := range uses {
		if !u.consumer && inProducer(u.at) {
			produced[u.name] = true
		}
	}
	for _, u := range uses {
		if u.consumer && !produced[u.name] {
			t.Errorf("%s: listens to events.%s, which no producer (%v) emits", u.at, u.name, producerDirs)
		}
	}
	for _, ti := range events.Types {
		if name := goName(ti.Type); !produced[name] {
			t.Errorf("events.%s (%q) is declared but no producer emits it", name, ti.Type)
		}
	}
	for _, l := range literals {
		t.Errorf("%s: compares an event's Type with the literal %s; use the events.Type constants", l.at, l.name)
	}
	if !produced["TypeStatus"] || len(uses) < 20 {
		t.Fatalf("the scan found too little (%d uses); is repoRoot right?", len(uses))
	}
}

// goName is the Go constant of an event type, as kinds.go names them.
func goName(t events.Type) string {
	names := map[events.Type]string{
		events.TypeConsole: "TypeConsole", events.TypeStatus: "TypeStatus", events.TypeStep: "TypeStep",
		events.TypeWeights: "TypeWeights", events.TypeDecision: "TypeDecision", events.TypeOutput: "TypeOutput",
		events.TypeMeasurement: "TypeMeasurement", events.TypeSkipped: "TypeSkipped", events.TypeLoadTest: "TypeLoadTest",
		events.TypePipelineStarted: "TypePipelineStarted", events.TypePipelineStatus: "TypePipelineStatus",
		events.TypePipelineGateWaiting: "TypePipelineGateWaiting", events.TypePipelineGatePassed: "TypePipelineGatePassed",
		events.TypePipelineGateFailed: "TypePipelineGateFailed", events.TypePipelineGateVerify: "TypePipelineGateVerify",
		events.TypePipelineDecision: "TypePipelineDecision", events.TypePipelineStageStarted: "TypePipelineStageStarted",
		events.TypePipelineStageFinished: "TypePipelineStageFinished", events.TypePipelineStageSkipped: "TypePipelineStageSkipped",
		events.TypePipelineRollback: "TypePipelineRollback", events.TypePipelineUndo: "TypePipelineUndo",
		events.TypePipelineAbort: "TypePipelineAbort", events.TypePipelineFinished: "TypePipelineFinished",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return "unnamed " + string(t)
}

func TestEveryTypeHasAGoName(t *testing.T) {
	for _, ti := range events.Types {
		if strings.HasPrefix(goName(ti.Type), "unnamed") {
			t.Errorf("type %q: add its constant name to goName", ti.Type)
		}
	}
}

func inProducer(at string) bool {
	return slices.ContainsFunc(producerDirs, func(d string) bool { return strings.HasPrefix(at, d+"/") })
}

// scanGo returns every use of an events.TypeX constant, and every comparison of an
// event's Type (e.Type, ev.Type, event.Type) with a string literal.
func scanGo(t *testing.T) (uses, literals []typeUse) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != repoRoot {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		u, l := scanFile(fset, f, filepath.ToSlash(rel))
		uses, literals = append(uses, u...), append(literals, l...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses, literals
}

func scanFile(fset *token.FileSet, f *ast.File, rel string) (uses, literals []typeUse) {
	alias := eventsImport(f)
	reads := readsEvents(f)
	pos := func(n ast.Node) string { return rel + ":" + strconv.Itoa(fset.Position(n.Pos()).Line) }
	compared := map[ast.Node]bool{}
	mark := func(e ast.Expr) {
		ast.Inspect(e, func(n ast.Node) bool {
			if s, ok := n.(*ast.SelectorExpr); ok {
				compared[s] = true
			}
			return true
		})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				mark(n.X)
				mark(n.Y)
				if lit := eventTypeLiteral(n.X, n.Y); lit != "" && reads {
					literals = append(literals, typeUse{name: lit, at: pos(n)})
				}
			}
		case *ast.SwitchStmt:
			if n.Tag != nil && reads && isEventType(n.Tag) {
				for _, c := range n.Body.List {
					for _, e := range c.(*ast.CaseClause).List {
						if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
							literals = append(literals, typeUse{name: b.Value, at: pos(b)})
						}
					}
				}
			}
		case *ast.CaseClause:
			for _, e := range n.List {
				mark(e)
			}
		}
		return true
	})
	if alias == "" {
		return uses, literals
	}
	ast.Inspect(f, func(n ast.Node) bool {
		s, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := s.X.(*ast.Ident); ok && id.Name == alias && strings.HasPrefix(s.Sel.Name, "Type") && s.Sel.Name != "TypeInfo" {
			uses = append(uses, typeUse{name: s.Sel.Name, at: pos(s), consumer: compared[s]})
		}
		return true
	})
	return uses, literals
}

// eventsImport is the name under which f imports internal/events, or "".
func eventsImport(f *ast.File) string {
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == "github.com/sluicehq/sluice/internal/events" {
			if im.Name != nil {
				return im.Name.Name
			}
			return "events"
		}
	}
	if f.Name.Name == "events" {
		return "" // the package itself declares, it does not consume
	}
	return ""
}

// readsEvents reports whether f can see sluice's events at all: it imports the
// store, the API types, the client or the vocabulary (a webhook's own event
// types, such as Harbor's, are not sluice's).
func readsEvents(f *ast.File) bool {
	for _, im := range f.Imports {
		switch p, _ := strconv.Unquote(im.Path.Value); strings.TrimPrefix(p, "github.com/sluicehq/sluice/internal/") {
		case "store", "api", "client", "events":
			return true
		}
	}
	return false
}

// isEventType reports whether e reads an event's Type: e.Type, ev.Type or
// event.Type, possibly converted (events.Type(e.Type)).
func isEventType(e ast.Expr) bool {
	if c, ok := e.(*ast.CallExpr); ok && len(c.Args) == 1 {
		e = c.Args[0]
	}
	s, ok := e.(*ast.SelectorExpr)
	if !ok || s.Sel.Name != "Type" {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && (id.Name == "e" || id.Name == "ev" || id.Name == "event")
}

// eventTypeLiteral returns the literal when one side reads an event's Type and the
// other is a string literal.
func eventTypeLiteral(x, y ast.Expr) string {
	for _, p := range [][2]ast.Expr{{x, y}, {y, x}} {
		if b, ok := p[1].(*ast.BasicLit); ok && b.Kind == token.STRING && isEventType(p[0]) {
			return b.Value
		}
	}
	return ""
}

var (
	jsConst   = regexp.MustCompile(`EventType\.([A-Z_]+)`)
	jsLiteral = regexp.MustCompile(`\b(?:ev|e|event)\.type\s*[!=]==?\s*'([^']*)'`)
	cssClass  = regexp.MustCompile(`\.ty-([a-z0-9.-]+)`)
	jsSetHas  = regexp.MustCompile(`(\w+)\.has\((?:ev|e|event)\.type\)`)
	jsQuoted  = regexp.MustCompile(`'([^']*)'|"([^"]*)"`)
)

// jsSetLiterals returns the quoted strings in the sets an event's type is
// looked up in (kinds.has(ev.type)).
func jsSetLiterals(src string) []string {
	var out []string
	for _, m := range jsSetHas.FindAllStringSubmatch(src, -1) {
		decl := regexp.MustCompile(`\b` + m[1] + `\s*=\s*new Set\(\[([^\]]*)\]`).FindStringSubmatch(src)
		if decl == nil {
			continue
		}
		for _, q := range jsQuoted.FindAllStringSubmatch(decl[1], -1) {
			out = append(out, q[1]+q[2])
		}
	}
	return out
}

// TestJSListensToEmittedTypes scans the UI's JavaScript and CSS: every
// EventType.X must exist in the generated kinds.js (a typo is undefined in JS,
// silently), no event's type is compared with a string literal, and every
// per-type CSS class (.ty-X) names a known type.
func TestJSListensToEmittedTypes(t *testing.T) {
	js := map[string]bool{}
	for _, ti := range events.Types {
		js[strings.ToUpper(string(ti.Type))] = true
	}
	static := filepath.Join(repoRoot, "internal/ui/static")
	seen := 0
	err := filepath.WalkDir(static, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "vendor" {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(path, "kinds.js") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		switch filepath.Ext(path) {
		case ".js":
			for _, m := range jsConst.FindAllStringSubmatch(string(b), -1) {
				seen++
				if !js[m[1]] {
					t.Errorf("%s: EventType.%s is not in kinds.js (known: %v)", rel, m[1], typeNames())
				}
			}
			for _, m := range jsLiteral.FindAllStringSubmatch(string(b), -1) {
				t.Errorf("%s: compares an event's type with '%s'; use EventType from kinds.js", rel, m[1])
			}
			for _, lit := range jsSetLiterals(string(b)) {
				t.Errorf("%s: looks an event's type up in a set holding '%s'; use EventType from kinds.js", rel, lit)
			}
		case ".css":
			for _, m := range cssClass.FindAllStringSubmatch(string(b), -1) {
				if !events.Known(events.Type(m[1])) {
					t.Errorf("%s: .ty-%s styles an event type nothing emits (known: %v)", rel, m[1], typeNames())
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no EventType use found in the UI's JavaScript; is the path right?")
	}
}

func TestJSSetLiterals(t *testing.T) {
	src := "const refreshOn = new Set(['status', EventType.STEP, \"approval\"]);\nif (refreshOn.has(ev.type)) x();"
	if got := jsSetLiterals(src); !slices.Equal(got, []string{"status", "approval"}) {
		t.Fatalf("jsSetLiterals = %q, want [status approval]", got)
	}
}

func typeNames() []string {
	var out []string
	for _, ti := range events.Types {
		out = append(out, string(ti.Type))
	}
	return out
}

// TestRecordKind keeps the stored journal kinds of records unchanged.
func TestRecordKind(t *testing.T) {
	if got := events.RecordKind(events.TypeMeasurement); got != "record.measurement" {
		t.Fatalf("RecordKind(measurement) = %q, want record.measurement", got)
	}
}
