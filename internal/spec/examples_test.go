package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleFiles lists every YAML file under examples/.
func exampleFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("../../examples", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	return files
}

func TestExamplesParseClean(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := ParseDocuments(f, src)
			if err != nil {
				t.Fatalf("problems:\n%v", err)
			}
			if len(docs) != 1 {
				t.Fatalf("got %d documents, want 1", len(docs))
			}
		})
	}
}

func TestMultiDocumentFile(t *testing.T) {
	env, err := os.ReadFile("../../examples/environments/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wf, err := os.ReadFile("../../examples/canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := append(append(append([]byte{}, env...), "---\n"...), wf...)
	docs, err := ParseDocuments("both.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Kind != KindEnvironment || docs[0].Name != "local" ||
		docs[1].Kind != KindWorkflow || docs[1].Name != "canary" {
		t.Fatalf("documents: %+v", docs)
	}
	if string(docs[0].Source) != string(env) {
		t.Errorf("first document's source is not its own text")
	}
	envLines := strings.Count(string(env), "\n")
	w := docs[1].Workflow
	if got, want := w.Spec.Phases[0].Pos.Line, envLines+1+strings.Count(string(wf[:strings.Index(string(wf), "- name: deploy")]), "\n")+1; got != want {
		t.Errorf("first phase at line %d, want %d", got, want)
	}
	_, _, err = w.Instantiate(map[string]string{"artifact": "./shop", "step_wait": "forever"})
	if err == nil || !strings.Contains(err.Error(), `variable step_wait: "forever" is not a duration`) {
		t.Errorf("instantiate: %v", err)
	}
	_, _, err = w.Instantiate(map[string]string{"artifact": "${x}"})
	if err != nil {
		t.Errorf("a value is not expanded again: %v", err)
	}
	if _, err := ParseWorkflow("both.yaml", src); err == nil || !strings.Contains(err.Error(), "file holds 2 documents") {
		t.Errorf("ParseWorkflow on two documents: %v", err)
	}
	if _, err := ParseEnvironment("canary.yaml", wf); err == nil || !strings.Contains(err.Error(), "document is a Workflow, expected an Environment") {
		t.Errorf("ParseEnvironment on a workflow: %v", err)
	}
}

func TestDocumentSourceIsTheSameAloneOrInAFile(t *testing.T) {
	one := "apiVersion: sluice.dev/v1alpha1\nkind: Environment\nmetadata: {name: a}\nspec:\n  platform: {type: recorder, recorder: {file: x}}\n  router: {type: recorder, recorder: {file: x}}\n"
	two := strings.Replace(one, "name: a", "name: b", 1)
	docs, err := ParseDocuments("f.yaml", []byte(one+"---\n"+two))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || string(docs[0].Source) != one || string(docs[1].Source) != two {
		t.Fatalf("sources %q and %q, want each document's own text", docs[0].Source, docs[1].Source)
	}
}
