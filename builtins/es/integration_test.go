package es

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

// esDo sends one request to the test server and decodes the JSON answer.
func esDo(t testing.TB, method, url, body string) (int, map[string]any) {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return res.StatusCode, out
}

// freshIndex creates an index with the given mappings (JSON of the
// properties) and deletes it when the test ends.
func freshIndex(t testing.TB, base, properties string) string {
	t.Helper()
	name := testenv.UniqueName(t, "mt-")
	code, res := esDo(t, http.MethodPut, base+"/"+name,
		`{"settings":{"number_of_shards":1,"number_of_replicas":0},"mappings":{"properties":`+properties+`}}`)
	if code != http.StatusOK {
		t.Fatalf("creating index %s: %d %v", name, code, res)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, base+"/"+name, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	})
	return name
}

// source returns the stored document, or nil when there is none.
func source(t testing.TB, base, index, id string) map[string]any {
	t.Helper()
	code, res := esDo(t, http.MethodGet, base+"/"+index+"/_doc/"+id, "")
	if code == http.StatusNotFound {
		return nil
	}
	if code != http.StatusOK {
		t.Fatalf("getting %s/%s: %d %v", index, id, code, res)
	}
	src, _ := res["_source"].(map[string]any)
	return src
}

func refresh(t testing.TB, base, index string) {
	t.Helper()
	if code, res := esDo(t, http.MethodPost, base+"/"+index+"/_refresh", ""); code != http.StatusOK {
		t.Fatalf("refreshing %s: %d %v", index, code, res)
	}
}

// countingProxy forwards to the server and counts bulk requests.
func countingProxy(t testing.TB, base string) (string, *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

const productMapping = `{"id":{"type":"long"},"name":{"type":"keyword"},"price":{"type":"scaled_float","scaling_factor":100},"stock":{"type":"integer"},"big":{"type":"keyword"}}`

func TestIntegrationAListenerIndexesUpsertsAndDeletesInOneBulk(t *testing.T) {
	base := testenv.ElasticsearchURL(t)
	ctx := testenv.Context(t, time.Minute)
	index := freshIndex(t, base, productMapping)
	proxied, bulks := countingProxy(t, base)
	l := listener(t, esSinks(proxied), `
    for _, ev in ipairs(events) do
      if ev.action == "delete" then
        es.delete("`+index+`", ev.before.id, {event = ev})
      elseif ev.action == "update" then
        es.upsert("`+index+`", ev.after.id, {stock = ev.after.stock})
      else
        local doc = ev.after
        doc.big = "18446744073709551615"
        doc.note = json.null
        es.index("`+index+`", ev.after.id, doc, {event = ev})
      end
    end
`)
	batch := []*event.Event{
		productEvent(event.Insert, 1, "mug", "12.50", 3, 100),
		productEvent(event.Insert, 2, "cup", "3.10", 5, 200),
		productEvent(event.Insert, 3, "pot", "30.00", 1, 300),
		productEvent(event.Update, 2, "cup", "3.10", 4, 400), // partial: stock only
		productEvent(event.Delete, 3, "pot", "30.00", 1, 500),
		productEvent(event.Update, 9, "new", "1.00", 7, 600), // upsert of a missing doc creates it
	}
	if err := l.Handle(ctx, 0, batch); err != nil {
		t.Fatalf("handling the batch: %v", err)
	}
	if n := bulks.Load(); n != 1 {
		t.Errorf("%d bulk requests for one batch, want 1", n)
	}
	refresh(t, base, index)
	if got := source(t, base, index, "1"); got["name"] != "mug" || got["price"] != "12.50" ||
		got["big"] != "18446744073709551615" || got["note"] != nil || len(got) != 6 {
		t.Errorf("doc 1 = %v", got)
	}
	if got := source(t, base, index, "2"); got["name"] != "cup" || got["stock"] != json.Number("4") {
		t.Errorf("doc 2 = %v, want the insert merged with the partial update", got)
	}
	if got := source(t, base, index, "3"); got != nil {
		t.Errorf("doc 3 = %v, want it deleted", got)
	}
	if got := source(t, base, index, "9"); got["stock"] != json.Number("7") {
		t.Errorf("doc 9 = %v, want it created by the upsert", got)
	}

	// Reads run at once, through the same connection.
	r := listener(t, esSinks(proxied), `
    local doc, err = es.get("`+index+`", 1)
    assert(doc and doc.name == "mug" and doc.big == "18446744073709551615" and doc.note == json.null, tostring(err))
    local none, err2 = es.get("`+index+`", "nope")
    assert(none == nil and err2 == nil, tostring(err2))
    local res, err3 = es.search("`+index+`", {query = {term = {name = "cup"}}})
    assert(res, tostring(err3))
    assert(#res.hits.hits == 1 and res.hits.hits[1]._source.stock == 4, "search hits")
    local bad, err4 = es.get("mt-no-such-index-at-all", 1)
    assert(bad == nil and err4:find("index_not_found"), tostring(err4))
`)
	if err := r.Handle(ctx, 0, batch[:1]); err != nil {
		t.Fatalf("reading: %v", err)
	}
}

func TestIntegrationAStaleWriteLeavesTheNewerDocumentAndSucceeds(t *testing.T) {
	base := testenv.ElasticsearchURL(t)
	ctx := testenv.Context(t, time.Minute)
	index := freshIndex(t, base, productMapping)
	l := listener(t, esSinks(base), `
    for _, ev in ipairs(events) do
      if ev.action == "delete" then
        es.delete("`+index+`", ev.before.id, {event = ev})
      else
        es.upsert("`+index+`", ev.after.id, ev.after, {event = ev})
      end
    end
`)
	newer := productEvent(event.Update, 1, "new name", "20.00", 9, 900)
	if err := l.Handle(ctx, 0, []*event.Event{newer}); err != nil {
		t.Fatal(err)
	}
	// A replay of older events, and of the same one: all no-ops, no error.
	older := []*event.Event{
		productEvent(event.Insert, 1, "old name", "10.00", 1, 100),
		productEvent(event.Delete, 1, "old name", "10.00", 1, 200),
		newer,
	}
	if err := l.Handle(ctx, 0, older); err != nil {
		t.Fatalf("replaying older events: %v", err)
	}
	refresh(t, base, index)
	if got := source(t, base, index, "1"); got["name"] != "new name" || got["stock"] != json.Number("9") {
		t.Errorf("doc = %v, want the newer document untouched", got)
	}
	// An equal version still applies (external_gte): rows of one rows
	// event may share a version.
	same := productEvent(event.Update, 1, "same version", "20.00", 9, 900)
	if err := l.Handle(ctx, 0, []*event.Event{same}); err != nil {
		t.Fatal(err)
	}
	refresh(t, base, index)
	if got := source(t, base, index, "1"); got["name"] != "same version" {
		t.Errorf("doc = %v, want the write with an equal version applied", got)
	}
}

func TestIntegrationABadDocumentFailsTheBatchNamingIt(t *testing.T) {
	base := testenv.ElasticsearchURL(t)
	ctx := testenv.Context(t, time.Minute)
	index := freshIndex(t, base, productMapping)
	l := listener(t, esSinks(base), `
    for _, ev in ipairs(events) do
      local doc = ev.after
      if doc.id == 2 then doc.stock = "abc" end
      es.index("`+index+`", doc.id, doc)
    end
`)
	batch := []*event.Event{
		productEvent(event.Insert, 1, "mug", "12.50", 3, 100),
		productEvent(event.Insert, 2, "cup", "3.10", 5, 200),
	}
	err := l.Handle(ctx, 0, batch)
	if err == nil {
		t.Fatal("a document that does not fit the mapping was accepted")
	}
	for _, s := range []string{`index "` + index + `"`, `id "2"`, "400", "mapper_parsing_exception", "stock"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
}

func TestIntegrationAServerGoneMidBatchFailsItAndTheRetrySucceeds(t *testing.T) {
	base := testenv.ElasticsearchURL(t)
	ctx := testenv.Context(t, time.Minute)
	index := freshIndex(t, base, productMapping)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, u.Host)
	l := listener(t, esSinks("http://"+proxy.Addr()), `
    for _, ev in ipairs(events) do
      es.index("`+index+`", ev.after.id, ev.after, {event = ev})
    end
`)
	first := []*event.Event{productEvent(event.Insert, 1, "mug", "12.50", 3, 100)}
	if err := l.Handle(ctx, 0, first); err != nil {
		t.Fatal(err)
	}
	var batch []*event.Event
	for i := int64(2); i <= 50; i++ {
		batch = append(batch, productEvent(event.Insert, i, "item", "1.00", i, uint32(100*i)))
	}
	proxy.Down()
	err = l.Handle(ctx, 0, batch)
	if err == nil {
		t.Fatal("the batch succeeded with the server unreachable")
	}
	t.Logf("with the server down: %v", err)
	proxy.Up()
	if err := l.Handle(ctx, 0, batch); err != nil {
		t.Fatalf("retrying after the server came back: %v", err)
	}
	refresh(t, base, index)
	code, res := esDo(t, http.MethodGet, base+"/"+index+"/_count", "")
	if code != http.StatusOK || res["count"] != json.Number("50") {
		t.Errorf("count = %d %v, want 50 documents", code, res)
	}
}
