package redis

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
)

// TestDocsExamples runs the redis section's examples of docs/lua-api.md in
// recording mode with the sinks they name: ad-hoc examples must record
// exactly their "-- records: " lines; listener examples must load and
// handle an event. (builtins/all only compiles them: it runs examples
// without sinks.)
func TestDocsExamples(t *testing.T) {
	s := testSinks("127.0.0.1:1")
	s.Conns["sessions"] = lua.SinkConfig{Type: "redis", Endpoints: []string{"127.0.0.1:1"}}
	for _, x := range luatest.DocExamples(t, "../../docs/lua-api.md", "redis") {
		t.Run(x.Name(), func(t *testing.T) {
			if strings.Contains(x.Src, "handle = function") {
				opts := options(s, true)
				opts.Print = io.Discard
				l := luatest.LoadListener(t, x.Src, opts)
				if err := l.Handle(context.Background(), 0, []*event.Event{orderEvent(1, 1, nil, "new")}); err != nil {
					t.Fatalf("handle: %v", err)
				}
				if len(l.Recorded()) == 0 {
					t.Error("the listener example recorded nothing")
				}
				return
			}
			x.CheckRecords(t, x.Record(t, options(s, true)))
		})
	}
}
