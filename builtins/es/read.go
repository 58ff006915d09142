package es

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

// readCtx bounds a read by the call's deadline and the sink's timeout.
func (c *conn) readCtx() (context.Context, context.CancelFunc) {
	ctx := c.Env.Context()
	if c.Config != nil && c.Config.Timeout > 0 {
		return context.WithTimeout(ctx, c.Config.Timeout)
	}
	return context.WithCancel(ctx)
}

// readClient returns the client for a read, or an error for nil, err.
func (c *conn) readClient() (*client, error) {
	if c.Env.Recording() {
		return nil, errRecording
	}
	return c.clientFor()
}

func fail(L *glua.LState, op string, err error) int {
	L.Push(glua.LNil)
	L.Push(glua.LString(fmt.Sprintf("es.%s: %v", op, err)))
	return 2
}

// get(index, id) → the document's _source as a table, nil when there is no
// such document, or nil, err. Numbers keep their digits (integers beyond
// 2^53 come back as strings), null is json.null.
func (c *conn) get(L *glua.LState) int {
	index := checkIndex(L, 1)
	id := checkID(L, 2)
	cl, err := c.readClient()
	if err != nil {
		return fail(L, "get", err)
	}
	ctx, cancel := c.readCtx()
	defer cancel()
	res, err := esapi.GetRequest{Index: index, DocumentID: id}.Do(ctx, cl.es)
	if err != nil {
		return fail(L, "get", fmt.Errorf("index %q id %q: %w", index, id, err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fail(L, "get", fmt.Errorf("index %q id %q: reading response: %w", index, id, err))
	}
	var doc struct {
		Found  bool            `json:"found"`
		Source json.RawMessage `json:"_source"`
	}
	if res.StatusCode == http.StatusNotFound {
		// A missing document is a 404 with found=false; a missing index
		// is a 404 with an error, which is worth telling apart.
		if json.Unmarshal(data, &doc) == nil && !doc.Found && !bytes.Contains(data, []byte(`"error"`)) {
			L.Push(glua.LNil)
			return 1
		}
	}
	if res.IsError() {
		return fail(L, "get", fmt.Errorf("index %q id %q: %s: %s", index, id, res.Status(), snippet(data)))
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fail(L, "get", fmt.Errorf("index %q id %q: decoding response: %w", index, id, err))
	}
	if !doc.Found {
		L.Push(glua.LNil)
		return 1
	}
	v, err := lua.DecodeJSON(L, doc.Source)
	if err != nil {
		return fail(L, "get", fmt.Errorf("index %q id %q: %w", index, id, err))
	}
	L.Push(v)
	return 1
}

// search(index, query) → the whole search response as a table (hits.hits[i]
// ._source, aggregations, ...), or nil, err. index may name several
// indexes, comma-separated, or patterns.
func (c *conn) search(L *glua.LState) int {
	index := checkIndex(L, 1)
	q := L.CheckTable(2)
	v, err := lua.ToGo(L, q)
	if err != nil {
		L.ArgError(2, "query: "+err.Error())
	}
	body, err := lua.AppendJSON(nil, v)
	if err != nil {
		L.ArgError(2, "query: "+err.Error())
	}
	cl, err := c.readClient()
	if err != nil {
		return fail(L, "search", err)
	}
	ctx, cancel := c.readCtx()
	defer cancel()
	res, err := esapi.SearchRequest{Index: []string{index}, Body: bytes.NewReader(body)}.Do(ctx, cl.es)
	if err != nil {
		return fail(L, "search", fmt.Errorf("index %q: %w", index, err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fail(L, "search", fmt.Errorf("index %q: reading response: %w", index, err))
	}
	if res.IsError() {
		return fail(L, "search", fmt.Errorf("index %q: %s: %s", index, res.Status(), snippet(data)))
	}
	out, err := lua.DecodeJSON(L, data)
	if err != nil {
		return fail(L, "search", fmt.Errorf("index %q: %w", index, err))
	}
	L.Push(out)
	return 1
}
