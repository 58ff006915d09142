package http

import (
	"testing"

	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
)

// TestDocsExamples runs the http section's examples of docs/lua-api.md in
// recording mode (nothing is sent) with the sink they name: each must
// record exactly its "-- records: " lines. (builtins/all only compiles
// them, since it runs examples for real and without sinks.)
func TestDocsExamples(t *testing.T) {
	s := luatest.Sinks{Conns: map[string]lua.SinkConfig{"hooks": {Type: "http", Endpoints: []string{"https://hooks.example.com/moontide"}, Headers: map[string]string{"Authorization": "Bearer x"}}}}
	for _, x := range luatest.DocExamples(t, "../../docs/lua-api.md", "http") {
		t.Run(x.Name(), func(t *testing.T) {
			x.CheckRecords(t, x.Record(t, luatest.Options(s, true)))
		})
	}
}
