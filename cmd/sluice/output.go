package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/follow"
)

// emit writes v as JSON or YAML when -o asks for it and reports whether it did; the
// caller prints a table otherwise.
func (a *app) emit(v any) (bool, error) {
	switch a.output {
	case "json":
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return true, fmt.Errorf("write json: %w", err)
		}
		return true, nil
	case "yaml":
		b, err := toYAML(v)
		if err != nil {
			return true, err
		}
		_, err = a.stdout.Write(b)
		return true, err
	}
	return false, nil
}

// toYAML renders v with the same field names and order as its JSON form.
func toYAML(v any) ([]byte, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(js, &n); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	blockStyle(&n)
	out, err := yaml.Marshal(&n)
	if err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return out, nil
}

// blockStyle drops the JSON flow and quoting styles so the YAML reads naturally.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// table writes rows under a header, aligned in columns.
func (a *app) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// age formats how long ago t was, in the largest whole unit.
func (a *app) age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := a.now().Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// consoleLine writes one console event as HH:MM:SS [step] message. Events without a
// message (data for charts, such as measurements) print nothing.
func consoleLine(w io.Writer, e api.Event) {
	if text := follow.ConsoleText(e, time.Local); text != "" {
		fmt.Fprintln(w, text)
	}
}
