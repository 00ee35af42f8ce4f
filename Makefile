# The README's two commands are `make demo` and `make test`.
.PHONY: build test demo bench fuzz

build:
	go build -o bin/sluice ./cmd/sluice

test:
	scripts/test.sh

demo: build
	bin/sluice demo

bench:
	go test -run='^$$' -bench=. -benchmem ./internal/engine/ ./internal/store/sqlite/

fuzz:
	go test -run='^$$' -fuzz=FuzzParseDocuments -fuzztime=2m ./internal/spec/
