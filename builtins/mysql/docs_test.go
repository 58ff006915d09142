package mysql

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/moontide/moontide/engine/lua"
)

// sectionBlocks returns the ```lua blocks of one "## name" section of a
// document, with the line of each opening fence.
func sectionBlocks(t *testing.T, path, section string) (blocks []string, lines []int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in, cur := false, -1
	for n, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.TrimSpace(line[3:]) == section
		case in && cur < 0 && strings.TrimSpace(line) == "```lua":
			blocks = append(blocks, "")
			lines = append(lines, n+1)
			cur = len(blocks) - 1
		case cur >= 0 && strings.TrimSpace(line) == "```":
			cur = -1
		case cur >= 0:
			blocks[cur] += line + "\n"
		}
	}
	return blocks, lines
}

// TestDocsExamplesRecord runs the examples of the mysql section of
// docs/lua-api.md in recording mode, with the sinks they name configured:
// every call in them must pass the argument checks. (builtins/all runs the
// page's examples without sinks, where these only compile.)
func TestDocsExamplesRecord(t *testing.T) {
	blocks, lines := sectionBlocks(t, "../../docs/lua-api.md", "mysql")
	if len(blocks) == 0 {
		t.Fatal("docs/lua-api.md has no mysql examples")
	}
	ss := mysqlSinks("mysql://u:p@127.0.0.1:1/db")
	ss.m["archive"] = lua.SinkConfig{Type: "mysql", DSN: "mysql://u:p@127.0.0.1:1/db"}
	for i, src := range blocks {
		t.Run("line "+strconv.Itoa(lines[i]), func(t *testing.T) {
			_, err := lua.Exec(context.Background(), lua.Script{File: "example.lua", Source: []byte(src)},
				lua.Options{Record: true, Sinks: ss, Clients: lua.NewPool(), Logger: quiet, Modules: []lua.Module{fakeJSON{}}, Print: &strings.Builder{}})
			if err != nil {
				t.Errorf("example failed: %v", err)
			}
		})
	}
}
