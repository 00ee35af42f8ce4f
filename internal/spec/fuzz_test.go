package spec

import (
	"errors"
	"os"
	"testing"
)

// FuzzParseDocuments feeds arbitrary bytes to the parser: it must return documents or
// Problems, never panic or hang, and whatever it accepts must instantiate and check
// without panicking either.
func FuzzParseDocuments(f *testing.F) {
	for _, file := range exampleFiles(f) {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"", "---\n---\n", "kind: Workflow\n", "a: &a [*a]\n", "<<: *x\n",
		billionLaughs(3), mergeBomb(5), wfHead + "        - traffic: ${x}\n",
		"apiVersion: sluice.dev/v1alpha1\nkind: Environment\nmetadata: &m {name: x, <<: *m}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		docs, err := ParseDocuments("fuzz.yaml", src)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T %v is not a non-empty Problems", err, err)
			}
			for _, p := range ps {
				if p.Message == "" || p.Pos.File != "fuzz.yaml" {
					t.Fatalf("problem without a message or file: %#v", p)
				}
			}
			_ = err.Error()
		}
		for _, d := range docs {
			if d.Workflow == nil {
				continue
			}
			values := map[string]string{}
			for _, v := range d.Workflow.Spec.Variables {
				values[v.Name] = placeholder(&v)
			}
			_, _, _ = d.Workflow.Instantiate(values)
			_ = d.Workflow.CheckEnvironment(&Environment{})
			for i := range d.Workflow.Spec.Phases {
				for j := range d.Workflow.Spec.Phases[i].Steps {
					_ = d.Workflow.Spec.Phases[i].Steps[j].DisplayName()
				}
			}
		}
	})
}
