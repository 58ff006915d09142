package all_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/parse"

	_ "github.com/moontide/moontide/builtins/all"
	"github.com/moontide/moontide/engine/lua"
)

// luaBlock is one ```lua block of a document.
type luaBlock struct {
	line int // of the opening fence
	src  string
	want []string // the "--> " lines, in order
}

func luaBlocks(t *testing.T, path string) []luaBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []luaBlock
	var cur *luaBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```lua":
			cur = &luaBlock{line: n}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			if rest, ok := strings.CutPrefix(line, "--> "); ok {
				cur.want = append(cur.want, rest)
			}
			cur.src += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// TestDocsExamples runs the examples of docs/lua-api.md and docs/scripts.md:
// blocks with "--> " lines run as ad-hoc scripts and must print (or log)
// exactly those lines; the others must compile.
func TestDocsExamples(t *testing.T) {
	for _, doc := range []string{"../../docs/lua-api.md", "../../docs/scripts.md"} {
		blocks := luaBlocks(t, doc)
		if len(blocks) == 0 {
			t.Errorf("%s has no lua examples", doc)
		}
		for _, b := range blocks {
			name := strings.TrimPrefix(doc, "../../") + ":" + strconv.Itoa(b.line)
			t.Run(name, func(t *testing.T) {
				if len(b.want) == 0 {
					if _, err := parse.Parse(strings.NewReader(b.src), name); err != nil {
						t.Fatalf("does not compile: %v", err)
					}
					return
				}
				var out bytes.Buffer
				logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
					ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
						if a.Key == slog.TimeKey && len(groups) == 0 {
							return slog.Attr{}
						}
						return a
					},
				}))
				_, err := lua.Exec(context.Background(), lua.Script{File: "example.lua", Source: []byte(b.src)},
					lua.Options{Print: &out, Logger: logger, Clients: lua.NewPool()})
				if err != nil {
					t.Fatalf("example failed: %v", err)
				}
				got := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
				if strings.Join(got, "\n") != strings.Join(b.want, "\n") {
					t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(b.want, "\n"))
				}
			})
		}
	}
}
