// Package localtest helps tests run their own binary as an instance of the local
// platform. When the tests run as root, the platform starts instances as an
// unprivileged user (nobody), who cannot enter the 0700 directory `go test` builds
// test binaries in; Executable hands out a copy that user can run.
package localtest
