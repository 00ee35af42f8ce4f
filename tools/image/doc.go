// Command image builds sluice's container image without Docker and writes it as one
// tarball that is both an OCI image layout (index.json, oci-layout, blobs/) and a
// `docker save` archive (manifest.json): load it with `docker load -i`, copy it with
// `skopeo copy oci-archive:FILE docker://REF`, or push it with
// `crane push FILE REF`.
//
// The image holds the statically linked sluice binary (CGO_ENABLED=0) at /sluice and
// the CA certificates of the build machine's Debian ca-certificates package at
// /etc/ssl/certs/ca-certificates.crt, nothing else; it runs as user 65532 with
// /sluice as its entrypoint. `make image` runs it from the repository's root:
//
//	cd tools/image && go run . -src ../.. -out ../../bin/sluice-image.tar
package main
