package spec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// parseSoon parses src and fails the test if that takes more than a generous bound,
// which only a hang (not a slow machine) exceeds: a 1 MiB file takes seconds alone
// and well over 30 s under -race on two busy cores.
func parseSoon(t *testing.T, src []byte) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := ParseDocuments("g.yaml", src)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Minute):
		t.Fatal("parsing did not finish")
		return nil
	}
}

// billionLaughs nests lists of aliases levels deep, each level doubling tenfold.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("apiVersion: sluice.dev/v1alpha1\nkind: Workflow\nx0: &a0 [lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ","))
	}
	fmt.Fprintf(&b, "metadata: {name: x, labels: *a%d}\n", levels)
	return b.String()
}

// mergeBomb nests merge keys so that a naive expansion doubles at every level.
func mergeBomb(levels int) string {
	var b strings.Builder
	b.WriteString("apiVersion: sluice.dev/v1alpha1\nkind: Environment\nm0: &m0 {a: b}\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "m%d: &m%d {<<: [*m%d, *m%d]}\n", i, i, i-1, i-1)
	}
	fmt.Fprintf(&b, "metadata: {name: x, labels: {<<: *m%d}}\n", levels)
	return b.String()
}

func TestGarbageGivesErrors(t *testing.T) {
	seed, err := os.ReadFile("../../examples/blue-green-canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		src  []byte
		want string // part of the error
	}{
		{"empty", nil, "file holds no documents"},
		{"only comments", []byte("# nothing\n---\n# here\n"), "file holds no documents"},
		{"binary", []byte("\x7fELF\x02\x01\x01\x00\x00\x00"), "file is binary"},
		{"invalid utf-8", []byte("kind: \xff\xfe\n"), "not valid UTF-8"},
		{"too large", bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1), "file too large"},
		{"truncated mid-token", seed[:bytes.Index(seed, []byte("approvers:"))+12], "invalid YAML"},
		{"truncated mid-document", seed[:len(seed)/2], ""},
		{"unclosed quote", []byte("kind: \"Workflow\n"), "invalid YAML"},
		{"tabs", []byte("kind: Workflow\n\tmetadata: x\n"), "invalid YAML"},
		{"scalar document", []byte("hello\n"), "a document must be a mapping"},
		{"deep flow nesting", []byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000)), "max depth"},
		{"deep block nesting", []byte("kind: Workflow\nmetadata:\n" + deepBlock(200)), "nests deeper than 64 levels"},
		{"deep nesting under the limit of yaml", []byte("kind: Workflow\nx: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000)), "nests deeper than 64 levels"},
		{"billion laughs", []byte(billionLaughs(9)), "expected a mapping, got a list"},
		{"merge bomb", []byte(mergeBomb(40)), "merge key expands too much"},
		{"alias cycle", []byte("apiVersion: sluice.dev/v1alpha1\nkind: Workflow\nmetadata: &m {name: x, labels: {a: *m}}\n"), "expected a string, got a mapping"},
		{"self-merge", []byte("apiVersion: sluice.dev/v1alpha1\nkind: Environment\nmetadata: &m {name: x, <<: *m}\n"), "merge key expands too much or refers to itself"},
		{"unknown anchor", []byte("kind: Workflow\nmetadata: *nope\n"), "unknown anchor"},
		{"document marker inside", []byte("kind: Workflow\n--- !!binary\nAAAA\n"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := parseSoon(t, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T is not Problems", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not mention %q:\n%v", tc.want, err)
			}
		})
	}
}

// deepBlock is a block mapping nested n levels deep.
func deepBlock(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i+1) + "a:\n")
	}
	return b.String()
}

// TestEveryTruncationIsHandled cuts every example at many places: each prefix either
// parses (a shorter file can be valid) or gives Problems, never a panic.
func TestEveryTruncationIsHandled(t *testing.T) {
	for _, f := range exampleFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut < len(src); cut += 7 {
			var ps Problems
			if _, err := ParseDocuments("t.yaml", src[:cut]); err != nil && !errors.As(err, &ps) {
				t.Errorf("%s cut at %d: error %T is not Problems", f, cut, err)
			}
		}
	}
}

func TestLargeValidFileParses(t *testing.T) {
	var b strings.Builder
	b.WriteString(wfHead)
	for b.Len() < MaxFileSize-100 {
		b.WriteString("        - wait: 1s\n")
	}
	err := parseSoon(t, []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
}
