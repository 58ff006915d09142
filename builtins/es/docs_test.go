package es

import (
	"testing"

	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
)

// TestDocsExamplesRecord runs the examples of the es section of
// docs/lua-api.md in recording mode, with the sinks they name configured:
// every call in them must pass the argument checks. (builtins/all runs the
// page's examples without sinks, where these only compile.)
func TestDocsExamplesRecord(t *testing.T) {
	ss := esSinks("http://127.0.0.1:1")
	ss.Conns["logs"] = lua.SinkConfig{Type: "es", Endpoints: []string{"http://127.0.0.1:1"}}
	for _, x := range luatest.DocExamples(t, "../../docs/lua-api.md", "es") {
		t.Run(x.Name(), func(t *testing.T) {
			x.Record(t, options(ss, true))
		})
	}
}
