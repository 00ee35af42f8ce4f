# The README's two commands are `make demo` and `make test`.
.PHONY: build test demo bench fuzz image

build:
	go build -o bin/sluice ./cmd/sluice
	ln -sf sluice bin/kubectl-sluice

test:
	scripts/test.sh

demo: build
	bin/sluice demo

bench:
	go test -run='^$$' -bench=. -benchmem ./internal/engine/ ./internal/store/sqlite/

fuzz:
	go test -run='^$$' -fuzz=FuzzParseDocuments -fuzztime=2m ./internal/spec/

# image writes bin/sluice-image.tar (an OCI layout that is also a docker save archive)
# without Docker; docs/kubernetes.md says how to load or push it.
IMAGE ?= ghcr.io/sluicehq/sluice:dev
VERSION ?= dev
ARCH ?= $(shell go env GOARCH)
image:
	cd tools/image && go run . -src ../.. -out ../../bin/sluice-image.tar -tag $(IMAGE) -version $(VERSION) -arch $(ARCH)
