package es

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
	"github.com/moontide/moontide/internal/testenv"
)

// benchBatch is the batch size of the benchmarks: the dispatch default of
// a busy listener.
const benchBatch = 500

// benchEvents returns batch n of product inserts: ids and binlog positions
// continue from batch to batch, so every batch writes new documents.
func benchEvents(n int) []*event.Event {
	evs := make([]*event.Event, benchBatch)
	for i := range evs {
		id := int64(n*benchBatch + i + 1)
		evs[i] = productEvent(event.Insert, id, "product "+strconv.FormatInt(id, 10), "19.90", id%100, uint32(id))
	}
	return evs
}

// BenchmarkModuleIndex measures es.index per event inside moontide: the
// Lua handler, conversion, bulk lines, one bulk request per 500-event batch
// and its response, against the real server.
func BenchmarkModuleIndex(b *testing.B) {
	base := testenv.ElasticsearchURL(b)
	index := freshIndex(b, base, productMapping)
	l := listener(b, esSinks(base), `
    for _, ev in ipairs(events) do
      es.index("`+index+`", ev.after.id, ev.after, {event = ev})
    end
`)
	ctx := testenv.Context(b, 0)
	luatest.BenchHandle(b, ctx, l, benchEvents)
}

// BenchmarkRawBulk is the ceiling for BenchmarkModuleIndex: the same
// documents, with the same ids and versions, sent by a bare loop of bulk
// requests through the same client, checking only the errors flag.
func BenchmarkRawBulk(b *testing.B) {
	base := testenv.ElasticsearchURL(b)
	index := freshIndex(b, base, productMapping)
	c, err := newClient(&lua.SinkConfig{Name: "raw", Endpoints: []string{base}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := testenv.Context(b, 0)
	type product struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Price string `json:"price"`
		Stock int64  `json:"stock"`
	}
	batches := make([][]*event.Event, b.N)
	for i := range batches {
		batches[i] = benchEvents(i)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		body.Reset()
		for _, ev := range batches[i] {
			id := ev.After[0].Int()
			body.WriteString(`{"index":{"_index":"` + index + `","_id":"` + strconv.FormatInt(id, 10) +
				`","version":` + strconv.FormatUint(ev.Version, 10) + `,"version_type":"external_gte"}}` + "\n")
			_ = enc.Encode(product{id, ev.After[1].Str(), ev.After[2].Str(), ev.After[3].Int()})
		}
		res, err := esapi.BulkRequest{Body: bytes.NewReader(body.Bytes()), FilterPath: []string{"errors"}}.Do(ctx, c.es)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.IsError() || !bytes.Contains(data, []byte(`"errors":false`)) {
			b.Fatalf("bulk: %s %s", res.Status(), data)
		}
	}
	luatest.ReportEventsPerSecond(b, b.N*benchBatch, start)
}

// BenchmarkModuleIndexNoServer is BenchmarkModuleIndex against a server
// that answers at once: moontide's own cost per event (Lua, conversion,
// bulk lines, response decoding), without Elasticsearch's.
func BenchmarkModuleIndexNoServer(b *testing.B) {
	resp := `{"errors":false,"items":[` + strings.TrimSuffix(strings.Repeat(`{"index":{"status":201}},`, benchBatch), ",") + `]}`
	srv := newInstantServer(b, resp)
	l := listener(b, esSinks(srv), `
    for _, ev in ipairs(events) do
      es.index("products", ev.after.id, ev.after, {event = ev})
    end
`)
	ctx := testenv.Context(b, 0)
	batch := benchEvents(0)
	luatest.BenchHandle(b, ctx, l, func(int) []*event.Event { return batch })
}

func newInstantServer(b *testing.B, resp string) string {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, resp)
	})}
	ts := newLocalListener(b)
	go func() { _ = srv.Serve(ts) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ts.Addr().String()
}
