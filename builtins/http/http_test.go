package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	// The json builtin, for json.null and json.encode in scripts under test.
	_ "github.com/moontide/moontide/builtins/json"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
)

// run executes an ad-hoc script under ctx, with the server's URL in the
// global URL, and returns what it recorded.
func run(t *testing.T, ctx context.Context, url, src string, opts lua.Options) ([]string, error) {
	t.Helper()
	src = fmt.Sprintf("URL = %q\nlocal http = require('http')\nlocal json = require('json')\n%s", url, src)
	return luatest.Exec(ctx, "t.lua", src, opts)
}

// seen is a request as the test server received it.
type seen struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// server is an httptest server that records requests and answers with
// handler (or 200 "ok").
func server(t *testing.T, handler http.HandlerFunc) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), b})
		mu.Unlock()
		if handler != nil {
			handler(w, r)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), reqs...)
	}
}

func TestPostSendsTheJSONBodyExactlyWithHeaders(t *testing.T) {
	srv, reqs := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Reply", "yes")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(201)
		_, _ = w.Write([]byte("created"))
	})
	_, err := run(t, context.Background(), srv.URL, `
local res, err = http.post(URL .. "/orders?x=1", {
  body = {id = 9007199254740993, big = "9223372036854775807", price = "19.90", half = 0.5,
          none = json.null, tags = json.array(), html = "<a&b>"},
  headers = {["X-Source"] = "moontide", ["X-N"] = 7},
})
assert(res, err)
assert(res.status == 201, res.status)
assert(res.body == "created", res.body)
assert(res.headers["x-reply"] == "yes", "header")
assert(res.headers["x-multi"] == "a, b", res.headers["x-multi"])
`, luatest.Options(nil, false))
	if err != nil {
		t.Fatal(err)
	}
	got := reqs()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	r := got[0]
	// 9007199254740993 is not a double: Lua numbers hold 2^53+2 at best.
	// Exact big integers travel as strings, as they reach Lua from MySQL.
	want := `{"big":"9223372036854775807","half":0.5,"html":"<a&b>","id":9007199254740992,"none":null,"price":"19.90","tags":[]}`
	if string(r.body) != want {
		t.Errorf("body %s\nwant %s", r.body, want)
	}
	if r.method != "POST" || r.path != "/orders" || r.query != "x=1" {
		t.Errorf("request %s %s?%s", r.method, r.path, r.query)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "X-Source": "moontide", "X-N": "7", "User-Agent": "moontide"} {
		if r.header.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, r.header.Get(k), v)
		}
	}
}

func TestStringBodiesAreSentAsTheyAre(t *testing.T) {
	srv, reqs := server(t, nil)
	_, err := run(t, context.Background(), srv.URL, `
assert(http.put(URL, {body = "\0\255raw", headers = {["content-type"] = "application/octet-stream"}}))
assert(http.patch(URL, {body = ""}))
assert(http.request("delete", URL .. "/x"))
assert(http.delete(URL .. "/y"))
assert(http.get(URL .. "/z"))
`, luatest.Options(nil, false))
	if err != nil {
		t.Fatal(err)
	}
	got := reqs()
	if len(got) != 5 {
		t.Fatalf("%d requests", len(got))
	}
	if string(got[0].body) != "\x00\xffraw" || got[0].header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("PUT body %q, content-type %q", got[0].body, got[0].header.Get("Content-Type"))
	}
	var methods []string
	for _, r := range got {
		methods = append(methods, r.method+" "+r.path)
	}
	want := []string{"PUT /", "PATCH /", "DELETE /x", "DELETE /y", "GET /z"}
	if !reflect.DeepEqual(methods, want) {
		t.Errorf("requests %q, want %q", methods, want)
	}
}

func TestNon2xxIsAResponseNotAnError(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", 503)
	})
	_, err := run(t, context.Background(), srv.URL, `
local res, err = http.get(URL)
assert(err == nil, err)
assert(res.status == 503 and res.body == "nope\n", res.status)
`, luatest.Options(nil, false))
	if err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutReturnsNilAndAnError(t *testing.T) {
	release := make(chan struct{})
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	_, err := run(t, context.Background(), srv.URL, `
local res, err = http.post(URL .. "/slow?token=secret", {body = "x", timeout = 100})
assert(res == nil, "got a response")
assert(err:find("timed out after 100ms", 1, true), err)
assert(err:find("http POST http://", 1, true), err)
assert(not err:find("secret", 1, true), "the query string leaked into " .. err)
`, luatest.Options(nil, false))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestTheCallsDeadlineCapsTheRequest(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _ = run(t, ctx, srv.URL, `http.get(URL, {timeout = 60000})`, luatest.Options(nil, false))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a 60s request outlived a 150ms call: %v", d)
	}
}

func TestNetworkErrorReturnsNilAndAnError(t *testing.T) {
	srv, _ := server(t, nil)
	url := srv.URL
	srv.Close()
	_, err := run(t, context.Background(), url, `
local res, err = http.get(URL)
assert(res == nil and err:find("http GET " .. URL, 1, true), tostring(err))
`, luatest.Options(nil, false))
	if err != nil {
		t.Fatal(err)
	}
}

func TestJSONResponsesDecodeWhenAsked(t *testing.T) {
	srv, reqs := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			_, _ = w.Write([]byte("<html>"))
			return
		}
		_, _ = w.Write([]byte(`{"id": 9223372036854775807, "ok": true, "none": null, "list": [1, 2.5]}`))
	})
	_, err := run(t, context.Background(), srv.URL, `
local res = assert(http.get(URL, {json = true}))
assert(res.json.id == "9223372036854775807", "big integers stay exact")
assert(res.json.ok == true and res.json.none == json.null and res.json.list[2] == 2.5, "decoded")
local bad = assert(http.get(URL .. "/bad", {json = true}))
assert(bad.json == nil and bad.json_error:find("decoding JSON"), "json_error")
assert(bad.body == "<html>")
`, luatest.Options(nil, false))
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs()[0].header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept %q", got)
	}
}

func TestSinksGiveABaseURLAndHeaders(t *testing.T) {
	srv, reqs := server(t, nil)
	s := luatest.Sinks{Conns: map[string]lua.SinkConfig{
		"hooks": {Type: "http", Endpoints: []string{srv.URL + "/api/"}, Headers: map[string]string{"Authorization": "Bearer t0k", "X-A": "sink"}},
		"cache": {Type: "redis", Endpoints: []string{"127.0.0.1:1"}},
	}}
	_, err := run(t, context.Background(), srv.URL, `
local hooks = http.sink("hooks")
assert(hooks == http.sink("hooks"), "sink tables are cached")
assert(hooks.post("/orders", {body = {id = 1}, headers = {["X-A"] = "request"}}))
assert(hooks.get("status?full=1"))
`, luatest.Options(s, false))
	if err != nil {
		t.Fatal(err)
	}
	got := reqs()
	if got[0].path != "/api/orders" || got[1].path != "/api/status" || got[1].query != "full=1" {
		t.Errorf("paths %s, %s?%s", got[0].path, got[1].path, got[1].query)
	}
	if got[0].header.Get("Authorization") != "Bearer t0k" || got[0].header.Get("X-A") != "request" {
		t.Errorf("headers %v", got[0].header)
	}
}

func TestRecordingModeRecordsAndSendsNothing(t *testing.T) {
	srv, reqs := server(t, nil)
	s := luatest.Sinks{Conns: map[string]lua.SinkConfig{"hooks": {Type: "http", Endpoints: []string{srv.URL}, Headers: map[string]string{"Authorization": "secret"}}}}
	ops, err := run(t, context.Background(), srv.URL, `
local res, err = http.post(URL .. "/a", {body = {id = 1}, timeout = 500})
assert(res.status == 0 and res.recorded == true and res.body == "", "canned response")
http.sink("hooks").delete("/b")
`, luatest.Options(s, true))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`http.post("` + srv.URL + `/a", {"body":"{\"id\":1}","timeout":500})`,
		`http[hooks].delete("` + srv.URL + `/b")`,
	}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	if n := len(reqs()); n != 0 {
		t.Errorf("%d requests sent in recording mode", n)
	}
}

func TestMisuseRaisesAnErrorNamingTheArgument(t *testing.T) {
	s := luatest.Sinks{Conns: map[string]lua.SinkConfig{"cache": {Type: "redis", Endpoints: []string{"x:1"}}, "hooks": {Type: "http", Endpoints: []string{"http://h"}}}}
	for _, tc := range []struct{ src, want string }{
		{`http.get("ftp://x")`, `bad argument #1`},
		{`http.get("/relative")`, `not an absolute http(s) URL`},
		{`http.post("http://h", {bodyy = "x"})`, `unknown option bodyy`},
		{`http.post("http://h", {body = 42})`, `body must be a string`},
		{`http.post("http://h", {body = json.null})`, `not json.null`},
		{`http.post("http://h", {body = {f = function() end}})`, `body: cannot convert a function at $.f`},
		{`http.post("http://h", {body = {b = "\255"}})`, `body: cannot encode a string that is not UTF-8 (binary data? encode it first, e.g. as hex) at $.b`},
		{`http.get("http://h", {timeout = 0})`, `timeout must be a number of milliseconds`},
		{`http.get("http://h", {headers = {["a b"] = "x"}})`, `header names`},
		{`http.get("http://h", {headers = {a = "x\r\nb: y"}})`, `line break`},
		{`http.get("http://h", "nope")`, `options must be a table`},
		{`http.sink("cache")`, `sink "cache" has type redis, not http`},
		{`http.sink("nope")`, `no sink named "nope"`},
		{`http.sink("hooks").get("http://elsewhere/x")`, `takes a path below its base URL`},
		{`http.request("", "http://h")`, `method must be`},
	} {
		_, err := run(t, context.Background(), "", tc.src, luatest.Options(s, true))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "t.lua:4") {
			t.Errorf("%s: error %v, want one at t.lua:4 containing %q", tc.src, err, tc.want)
		}
	}
}
