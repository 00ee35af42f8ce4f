package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// kustomizationFiles are the names kustomize recognises for a kustomization.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// manifestDeployment finds the one Deployment in path: a manifest file, a directory
// of them (*.yaml, *.yml, *.json, not recursive), or a directory with a
// kustomization, rendered the way `kustomize build` does.
func manifestDeployment(path string) (*appsv1.Deployment, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var docs []docAt
	switch {
	case !info.IsDir():
		docs, err = readDocs(path)
	case hasKustomization(path):
		docs, err = kustomizeDocs(path)
	default:
		docs, err = readDir(path)
	}
	if err != nil {
		return nil, err
	}
	return onlyDeployment(docs)
}

// docAt is one manifest and where it came from.
type docAt struct {
	where string
	obj   *unstructured.Unstructured
}

func hasKustomization(dir string) bool {
	for _, name := range kustomizationFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

func readDir(dir string) ([]docAt, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []docAt
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || !slices.Contains([]string{".yaml", ".yml", ".json"}, ext) {
			continue
		}
		docs, err := readDocs(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

// readDocs reads every document of a YAML or JSON file.
func readDocs(file string) ([]docAt, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return splitDocs(file, b)
}

func splitDocs(where string, b []byte) ([]docAt, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []docAt
	for i := 1; ; i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: document %d: %w", where, i, err)
		}
		if obj != nil {
			out = append(out, docAt{where: fmt.Sprintf("%s (document %d)", where, i), obj: &unstructured.Unstructured{Object: obj}})
		}
	}
}

// onlyDeployment decodes the one apps/v1 Deployment among docs, refusing fields a
// Deployment does not have.
func onlyDeployment(docs []docAt) (*appsv1.Deployment, error) {
	var found []docAt
	for _, d := range docs {
		if d.obj.GetKind() == "Deployment" && d.obj.GetAPIVersion() == "apps/v1" {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no apps/v1 Deployment among %d manifests", len(docs))
	case 1:
	default:
		var names []string
		for _, d := range found {
			names = append(names, d.obj.GetName()+" in "+d.where)
		}
		return nil, fmt.Errorf("%d Deployments (%s): keep one per service", len(found), strings.Join(names, ", "))
	}
	b, err := found[0].obj.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict(b, &dep); err != nil {
		return nil, fmt.Errorf("%s: %w", found[0].where, err)
	}
	return &dep, nil
}
