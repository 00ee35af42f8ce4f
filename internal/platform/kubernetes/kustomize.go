package kubernetes

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizeDocs renders the kustomization in dir with the Kustomize Go API, as
// `kustomize build dir` does with its default options (no plugins, no remote bases
// beyond what kustomize itself fetches).
func kustomizeDocs(dir string) ([]docAt, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	b, err := res.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	return splitDocs(dir+" (kustomize build)", b)
}
