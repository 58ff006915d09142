package redis

import (
	"context"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/moontide/moontide/engine/event"
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

// TestDocsExamples runs the redis section's examples of docs/lua-api.md in
// recording mode with the sinks they name: ad-hoc examples must record
// exactly their "-- records: " lines; listener examples must load and
// handle an event. (builtins/all only compiles them: it runs examples
// without sinks.)
func TestDocsExamples(t *testing.T) {
	blocks := sectionBlocks(t, "../../docs/lua-api.md", "redis")
	if len(blocks) == 0 {
		t.Fatal("docs/lua-api.md has no redis examples")
	}
	s := testSinks("127.0.0.1:1")
	s.m["sessions"] = lua.SinkConfig{Type: "redis", Endpoints: []string{"127.0.0.1:1"}}
	for _, b := range blocks {
		t.Run("line "+strconv.Itoa(b.line), func(t *testing.T) {
			opts := options(s, true)
			opts.Print = &strings.Builder{}
			if strings.Contains(b.src, "handle = function") {
				l := loadListener(t, b.src, opts)
				if err := l.Handle(context.Background(), 0, []*event.Event{orderEvent(1, 1, nil, "new")}); err != nil {
					t.Fatalf("handle: %v", err)
				}
				if len(l.Recorded()) == 0 {
					t.Error("the listener example recorded nothing")
				}
				return
			}
			ops, err := exec(t, b.src, opts)
			if err != nil {
				t.Fatalf("example failed: %v", err)
			}
			if !reflect.DeepEqual(ops, b.records) {
				t.Errorf("recorded\n%s\nthe example says\n%s", strings.Join(ops, "\n"), strings.Join(b.records, "\n"))
			}
		})
	}
}
