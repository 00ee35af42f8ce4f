// Package golden is the tests' one golden-file check: a test's output is compared
// byte for byte with a file under testdata, and `go test -update` rewrites the
// files from the current output instead. Only tests import it; it registers the
// -update flag in their binary.
package golden
