package http

import (
	"context"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/moontide/moontide/engine/lua"
)

// docBlock is one ```lua block of a section of docs/lua-api.md.
type docBlock struct {
	line    int
	src     string
	records []string // the "-- records: " lines, in order
}

// sectionBlocks returns the ```lua blocks of the "## section" part of a
// document.
func sectionBlocks(t *testing.T, path, section string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []docBlock
	in, cur := false, -1
	for n, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.TrimSpace(line[3:]) == section
		case in && cur < 0 && strings.TrimSpace(line) == "```lua":
			blocks = append(blocks, docBlock{line: n + 1})
			cur = len(blocks) - 1
		case cur >= 0 && strings.TrimSpace(line) == "```":
			cur = -1
		case cur >= 0:
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- records: "); ok {
				blocks[cur].records = append(blocks[cur].records, rest)
			}
			blocks[cur].src += line + "\n"
		}
	}
	return blocks
}

// TestDocsExamples runs the http section's examples of docs/lua-api.md in
// recording mode (nothing is sent) with the sink they name: each must
// record exactly its "-- records: " lines. (builtins/all only compiles
// them, since it runs examples for real and without sinks.)
func TestDocsExamples(t *testing.T) {
	blocks := sectionBlocks(t, "../../docs/lua-api.md", "http")
	if len(blocks) == 0 {
		t.Fatal("docs/lua-api.md has no http examples")
	}
	s := sinks{"hooks": {Type: "http", Endpoints: []string{"https://hooks.example.com/moontide"}, Headers: map[string]string{"Authorization": "Bearer x"}}}
	for _, b := range blocks {
		t.Run("line "+strconv.Itoa(b.line), func(t *testing.T) {
			opts := testOptions(s, true)
			opts.Print = &strings.Builder{}
			recs, err := lua.Exec(context.Background(), lua.Script{File: "example.lua", Source: []byte(b.src)}, opts)
			if err != nil {
				t.Fatalf("example failed: %v", err)
			}
			ops := make([]string, len(recs))
			for i, o := range recs {
				ops[i] = o.String()
			}
			if len(ops)+len(b.records) > 0 && !reflect.DeepEqual(ops, b.records) {
				t.Errorf("recorded\n%s\nthe example says\n%s", strings.Join(ops, "\n"), strings.Join(b.records, "\n"))
			}
		})
	}
}
