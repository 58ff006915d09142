package es

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

func TestWritesAreRecordedInCallOrder(t *testing.T) {
	ops, err := record(t, `
local es = require("es")
es.index("products", 7, {name = "mug", price = "12.50", big = "18446744073709551615", note = require("json").null})
es.update("products", "7", {stock = 3})
es.upsert("products", 8, {name = "cup"}, {version = 42})
es.upsert("products", 9, {name = "pot"})
es.delete("products", "9", {version = "9007199254740993"})
es.conn("other").index("logs", "a", {n = 1.5}, {routing = "r1"})
es.update("products", 10, {stock = 0}, {ignore_missing = true})
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`es[search].index("products", "7", {"big":"18446744073709551615","name":"mug","note":null,"price":"12.50"})`,
		`es[search].update("products", "7", {"stock":3})`,
		`es[search].upsert("products", "8", {"name":"cup"}, {"version":42,"version_type":"external_gte"})`,
		`es[search].upsert("products", "9", {"name":"pot"})`,
		`es[search].delete("products", "9", {"version":9007199254740993,"version_type":"external_gte"})`,
		`es[search].update("products", "10", {"stock":0}, {"ignore_missing":true})`,
		`es[other].index("logs", "a", {"n":1.5}, {"routing":"r1"})`,
	}
	if strings.Join(ops, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
}

func TestAnEventGivesItsVersion(t *testing.T) {
	ops, err := record(t, `
local es = require("es")
local ev = {version = "9223372036854775807"}
es.index("p", 1, {a = 1}, {event = ev})
es.index("p", 2, {a = 1}, {event = {version = 5}, version = 6, version_type = "external"})
`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ops[0], `{"version":9223372036854775807,"version_type":"external_gte"}`) ||
		!strings.Contains(ops[1], `{"version":6,"version_type":"external"}`) {
		t.Errorf("recorded %q", ops)
	}
}

func TestMisuseRaisesAnErrorNamingTheArgument(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"an empty index", `es.index("", 1, {})`, "bad argument #1"},
		{"an id that is a table", `es.index("p", {}, {})`, "bad argument #2"},
		{"a fractional id", `es.index("p", 1.5, {})`, "integer or a string"},
		{"an index that is not UTF-8", `es.index("p\255", 1, {})`, "bad argument #1 to index (index name is not UTF-8"},
		{"an id that is not UTF-8", `es.delete("p", "\255")`, "bad argument #2 to delete (document id is not UTF-8"},
		{"a routing that is not UTF-8", `es.index("p", 1, {}, {routing = "\255"})`, "bad argument #4 to index (options: routing is not UTF-8"},
		{"a document that is an array", `es.index("p", 1, {1, 2})`, "not an array"},
		{"a document with a function", `es.index("p", 1, {f = print})`, "$.f"},
		{"a document with bytes that are not UTF-8", `es.index("p", 1, {b = {c = "\255"}})`, "at $.b.c"},
		{"a document with NaN", `es.index("p", 1, {x = 0/0})`, "NaN"},
		{"a versioned partial update", `es.update("p", 1, {a = 1}, {version = 3})`, "update cannot be versioned"},
		{"an unknown option", `es.index("p", 1, {}, {verison = 3})`, "unknown option verison"},
		{"a negative version", `es.index("p", 1, {}, {version = -1})`, "not an exact non-negative integer"},
		{"a version beyond 2^63-1", `es.index("p", 1, {}, {version = "9223372036854775808"})`, "beyond the largest version"},
		{"a version that is not digits", `es.index("p", 1, {}, {version = "12a"})`, "not a decimal integer"},
		{"a version beyond 2^53 as a number", `es.index("p", 1, {}, {version = 2^60})`, "decimal strings"},
		{"an event without version", `es.index("p", 1, {}, {event = {}})`, `event.version: missing (a listener with a fields list must list "version")`},
		{"a version type without version", `es.index("p", 1, {}, {version_type = "external"})`, "needs a version"},
		{"a bad version type", `es.index("p", 1, {}, {version = 1, version_type = "internal"})`, "version_type must be"},
		{"ignore_missing on index", `es.index("p", 1, {}, {ignore_missing = true})`, "update only"},
		{"an unknown connection", `es.conn("nope")`, `no sink named "nope"`},
		{"a connection of another kind", `es.conn("cache")`, `has type redis, not es`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := record(t, "local es = require('es')\n"+tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestReadsInRecordingModeReturnAnError(t *testing.T) {
	_, err := record(t, `
local es = require("es")
local doc, err = es.get("p", 1)
assert(doc == nil and err:find("recording mode"), tostring(err))
local res, err2 = es.search("p", {query = {match_all = {}}})
assert(res == nil and err2:find("recording mode"), tostring(err2))
`)
	if err != nil {
		t.Fatal(err)
	}
}

func TestBulkLinesFollowTheBulkAPI(t *testing.T) {
	var b bulk
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.add(opIndex, "p", "1", map[string]any{"a": int64(1), "s": "x\"\n\u2028"}, opts{}))
	must(b.add(opIndex, "p", "2", map[string]any{}, opts{versioned: true, version: 9, versionType: "external_gte", routing: "r"}))
	must(b.add(opUpdate, "p", "3", map[string]any{"n": lua.Null{}}, opts{}))
	must(b.add(opUpsert, "p", "4", map[string]any{"l": []any{int64(1), 2.5}}, opts{}))
	must(b.add(opUpsert, "p", "5", map[string]any{"a": true}, opts{versioned: true, version: 10, versionType: "external_gte"}))
	must(b.add(opDelete, "p", "6", nil, opts{versioned: true, version: 11, versionType: "external"}))
	want := `{"index":{"_index":"p","_id":"1"}}
{"a":1,"s":"x\"\n\u2028"}
{"index":{"_index":"p","_id":"2","version":9,"version_type":"external_gte","routing":"r"}}
{}
{"update":{"_index":"p","_id":"3","retry_on_conflict":3}}
{"doc":{"n":null}}
{"update":{"_index":"p","_id":"4","retry_on_conflict":3}}
{"doc":{"l":[1,2.5]},"doc_as_upsert":true}
{"index":{"_index":"p","_id":"5","version":10,"version_type":"external_gte"}}
{"a":true}
{"delete":{"_index":"p","_id":"6","version":11,"version_type":"external"}}
`
	if string(b.buf) != want {
		t.Errorf("bulk body:\n%s\nwant:\n%s", b.buf, want)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b.buf)), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("invalid JSON line %s", line)
		}
	}
}

// fakeES answers bulk requests with the responses given, in turn, and
// records the bodies it got.
type fakeES struct {
	mu        sync.Mutex
	bodies    []string
	responses []func(w http.ResponseWriter, body string)
	product   string
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.bodies)
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	if f.product != "" {
		w.Header().Set("X-Elastic-Product", f.product)
	}
	w.Header().Set("Content-Type", "application/json")
	if n >= len(f.responses) {
		http.Error(w, `{"error":"unexpected request"}`, http.StatusInternalServerError)
		return
	}
	f.responses[n](w, string(body))
}

// items answers with one item result per line pair: the statuses given
// (an error object for non-2xx).
func items(statuses ...int) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, _ string) {
		type res struct {
			Status int            `json:"status"`
			Error  map[string]any `json:"error,omitempty"`
		}
		out := struct {
			Errors bool             `json:"errors"`
			Items  []map[string]res `json:"items"`
		}{}
		for _, s := range statuses {
			r := res{Status: s}
			switch s {
			case 409:
				r.Error = map[string]any{"type": "version_conflict_engine_exception", "reason": "current version [9] is higher"}
			case 429:
				r.Error = map[string]any{"type": "es_rejected_execution_exception", "reason": "queue full"}
			case 400:
				r.Error = map[string]any{"type": "mapper_parsing_exception", "reason": "failed to parse field [stock] of type [integer]",
					"caused_by": map[string]any{"type": "number_format_exception", "reason": `For input string: "abc"`}}
			case 404:
				r.Error = map[string]any{"type": "document_missing_exception", "reason": "document missing"}
			}
			if s >= 300 {
				out.Errors = true
			}
			out.Items = append(out.Items, map[string]res{"index": r})
		}
		_ = json.NewEncoder(w).Encode(out)
	}
}

func status(code int) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, _ string) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error":"busy"}`))
	}
}

func flushAgainst(t *testing.T, f *fakeES, add func(b *bulk)) error {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := newClient(&lua.SinkConfig{Name: "t", Endpoints: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	b := &bulk{client: c, sink: "t"}
	add(b)
	return b.Flush(context.Background())
}

func doc(b *bulk, kind opKind, id string, o opts) {
	var d any
	if kind != opDelete {
		d = map[string]any{"id": id}
	}
	if err := b.add(kind, "p", id, d, o); err != nil {
		panic(err)
	}
}

var v9 = opts{versioned: true, version: 9, versionType: "external_gte"}

func TestAStaleVersionedWriteCountsAsSuccess(t *testing.T) {
	f := &fakeES{responses: []func(http.ResponseWriter, string){items(201, 409, 200)}}
	err := flushAgainst(t, f, func(b *bulk) {
		doc(b, opIndex, "1", v9)
		doc(b, opIndex, "2", v9)
		doc(b, opDelete, "3", v9)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.bodies) != 1 {
		t.Errorf("%d requests, want 1", len(f.bodies))
	}
}

func TestAConflictWithoutAVersionFails(t *testing.T) {
	f := &fakeES{responses: []func(http.ResponseWriter, string){items(409)}}
	err := flushAgainst(t, f, func(b *bulk) { doc(b, opUpdate, "1", opts{}) })
	if err == nil || !strings.Contains(err.Error(), `update (index "p", id "1"): 409`) {
		t.Errorf("err = %v", err)
	}
}

func TestMissingDocumentsOfDeletesAndTolerantUpdatesSucceed(t *testing.T) {
	f := &fakeES{responses: []func(http.ResponseWriter, string){items(404, 404)}}
	err := flushAgainst(t, f, func(b *bulk) {
		doc(b, opDelete, "1", opts{})
		doc(b, opUpdate, "2", opts{ignoreMissing: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	f = &fakeES{responses: []func(http.ResponseWriter, string){items(404)}}
	err = flushAgainst(t, f, func(b *bulk) { doc(b, opUpdate, "2", opts{}) })
	if err == nil || !strings.Contains(err.Error(), "document_missing_exception") {
		t.Errorf("err = %v", err)
	}
}

func TestRejectedItemsAreResentWithLaterWritesOfTheSameDocument(t *testing.T) {
	f := &fakeES{responses: []func(http.ResponseWriter, string){
		items(201, 429, 201, 200), // 2 rejected; 4 is document 2 again
		items(200, 200),
	}}
	err := flushAgainst(t, f, func(b *bulk) {
		doc(b, opIndex, "1", opts{})
		doc(b, opIndex, "2", opts{})
		doc(b, opIndex, "3", opts{})
		doc(b, opDelete, "2", opts{})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":{"_index":"p","_id":"2"}}
{"id":"2"}
{"delete":{"_index":"p","_id":"2"}}
`
	if len(f.bodies) != 2 || f.bodies[1] != want {
		t.Errorf("requests %q, want the second to be\n%s", f.bodies, want)
	}
}

func TestAMappingErrorFailsTheFlushNamingTheItem(t *testing.T) {
	f := &fakeES{responses: []func(http.ResponseWriter, string){items(201, 400, 429)}}
	err := flushAgainst(t, f, func(b *bulk) {
		doc(b, opIndex, "1", opts{})
		doc(b, opIndex, "2", opts{})
		doc(b, opIndex, "3", opts{})
	})
	var be *BulkError
	if !errors.As(err, &be) || len(be.Items) != 1 {
		t.Fatalf("err = %v, want a BulkError with one item", err)
	}
	for _, s := range []string{`index (index "p", id "2")`, "400", "mapper_parsing_exception", `For input string: "abc"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if len(f.bodies) != 1 {
		t.Errorf("%d requests, want 1: a batch with a permanent failure is not resent", len(f.bodies))
	}
}

func TestAnOverloadedServerIsRetriedThenReported(t *testing.T) {
	f := &fakeES{responses: []func(http.ResponseWriter, string){status(429), status(503), items(201)}}
	if err := flushAgainst(t, f, func(b *bulk) { doc(b, opIndex, "1", opts{}) }); err != nil {
		t.Fatalf("after two rejections: %v", err)
	}
	f = &fakeES{responses: []func(http.ResponseWriter, string){status(503), status(503), status(503), status(503), items(201)}}
	err := flushAgainst(t, f, func(b *bulk) { doc(b, opIndex, "1", opts{}) })
	if err == nil || !strings.Contains(err.Error(), "giving up after 4 attempts") || !strings.Contains(err.Error(), "503") {
		t.Errorf("err = %v", err)
	}
	f = &fakeES{responses: []func(http.ResponseWriter, string){status(400)}}
	if err := flushAgainst(t, f, func(b *bulk) { doc(b, opIndex, "1", opts{}) }); err == nil || len(f.bodies) != 1 {
		t.Errorf("a 400 for the whole request: err = %v after %d requests, want an error after 1", err, len(f.bodies))
	}
}

func TestTheProductCheckPassesServersWithoutAProductHeader(t *testing.T) {
	f := &fakeES{responses: []func(http.ResponseWriter, string){items(201)}}
	if err := flushAgainst(t, f, func(b *bulk) { doc(b, opIndex, "1", opts{}) }); err != nil {
		t.Errorf("a server without X-Elastic-Product: %v", err)
	}
	f = &fakeES{product: "NotElasticsearch", responses: []func(http.ResponseWriter, string){items(201)}}
	if err := flushAgainst(t, f, func(b *bulk) { doc(b, opIndex, "1", opts{}) }); err == nil {
		t.Error("a server that names another product was accepted")
	}
}

func TestTheCompatibilityMediaTypeIsNotSent(t *testing.T) {
	t.Setenv("ELASTIC_CLIENT_APIVERSIONING", "true")
	var accept, ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept, ctype = r.Header.Get("Accept"), r.Header.Get("Content-Type")
		items(201)(w, "")
	}))
	defer srv.Close()
	c, err := newClient(&lua.SinkConfig{Name: "t", Endpoints: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := &bulk{client: c}
	doc(b, opIndex, "1", opts{})
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(accept+ctype, "compatible-with") {
		t.Errorf("Accept %q, Content-Type %q: the v8 compatibility media type reached the server", accept, ctype)
	}
}

func TestAListenerFlushesOneBulkPerConnection(t *testing.T) {
	f := &fakeES{responses: []func(http.ResponseWriter, string){items(201, 201), items(201)}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	l := listener(t, esSinks(srv.URL), `
    for _, ev in ipairs(events) do
      es.index("products", ev.after.id, ev.after, {event = ev})
    end
    es.conn("other").delete("old", "x")
`)
	batch := []*event.Event{
		productEvent(event.Insert, 1, "mug", "12.50", 3, 100),
		productEvent(event.Insert, 2, "cup", "3.10", 0, 200),
	}
	if err := l.Handle(context.Background(), 0, batch); err != nil {
		t.Fatal(err)
	}
	if len(f.bodies) != 2 {
		t.Fatalf("%d requests, want one per connection", len(f.bodies))
	}
	if !strings.Contains(f.bodies[0], `"version":`) || !strings.Contains(f.bodies[0], `{"id":2,"name":"cup","price":"3.10","stock":0}`) {
		t.Errorf("first bulk:\n%s", f.bodies[0])
	}
}
