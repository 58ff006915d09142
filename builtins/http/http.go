// Package http is the http builtin: webhooks and callbacks from scripts.
//
//	local http = require("http")
//	local res, err = http.post("https://hooks.example.com/orders", {
//	  body = {id = ev.after.id, status = ev.after.status}, -- a table is sent as JSON
//	  headers = {["x-source"] = "moontide"},
//	  timeout = 2000, -- milliseconds
//	})
//	if not res then error(err) end               -- network failure or timeout
//	if res.status >= 300 then error("hook said " .. res.status) end
//
// What it guarantees (docs/lua-api.md, section http):
//
//   - Requests run at once, NOT buffered with the batch's writes: a request
//     made by a batch that later fails is not taken back, and the retried
//     batch makes it again. Webhook receivers should be idempotent (send
//     ev.id or ev.version along).
//   - Each request runs under the call's context with its own timeout
//     (opts.timeout, else the sink's, else 10s), so it never outlives the
//     call's deadline.
//   - A response of any status, 4xx and 5xx included, is a response:
//     {status, body, headers}. Only a request that got no response
//     (refused, reset, timed out, bad TLS, body over 8 MiB) returns nil and
//     an error message. Messages name the method and the URL without its
//     query string, which may hold tokens.
//   - Misuse (a bad URL, an unknown option, a body that is neither a string
//     nor a table) raises a Lua error naming the argument.
//   - In recording mode (`moontide test`) nothing is sent: the request is
//     recorded as a lua.Op and the function returns
//     {status = 0, body = "", headers = {}, recorded = true}.
//
// Named base URLs come from sinks of type http: http.sink("hooks") returns
// the same functions taking paths relative to the sink's endpoint and
// sending its headers.
package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

func init() { lua.Register(module{}) }

const kind = "http"

// DefaultTimeout bounds a request when neither its options nor its sink
// set a timeout.
const DefaultTimeout = 10 * time.Second

// MaxBody is the largest response body read; a larger one is an error
// rather than a truncated body that a script would take for the whole.
const MaxBody = 8 << 20

// client is shared by every state: an http.Client is safe for concurrent
// use and keeps connections alive across calls, listeners and reloads.
var client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}

type module struct{}

// Name is "http".
func (module) Name() string { return kind }

// Open builds the http table for one state. It does no I/O.
func (module) Open(L *glua.LState, env *lua.Env) (glua.LValue, error) {
	m := &modState{env: env, sinks: map[string]*glua.LTable{}}
	t := m.table(L, &target{env: env})
	t.RawSetString("sink", L.NewFunction(m.sinkFn))
	return t, nil
}

// modState caches the tables of the sinks a state asked for.
type modState struct {
	env   *lua.Env
	sinks map[string]*glua.LTable
}

// target is where requests of one table go: anywhere (the module table),
// or below a sink's base URL with its headers.
type target struct {
	env     *lua.Env
	sink    string
	base    string
	headers map[string]string
	timeout time.Duration
}

// sinkFn is http.sink(name). An unknown sink, or one without a usable
// base URL, is an error at once.
func (m *modState) sinkFn(L *glua.LState) int {
	name := L.CheckString(1)
	if t, ok := m.sinks[name]; ok {
		L.Push(t)
		return 1
	}
	cfg, err := lua.SinkFor(m.env, kind, name)
	if err != nil {
		L.ArgError(1, err.Error())
	}
	if len(cfg.Endpoints) == 0 {
		L.ArgError(1, fmt.Sprintf("http sink %q has no endpoint (its base URL)", name))
	}
	if _, err := parseURL(cfg.Endpoints[0]); err != nil {
		L.ArgError(1, fmt.Sprintf("http sink %q: %v", name, err))
	}
	tg := &target{env: m.env, sink: name, base: cfg.Endpoints[0], headers: cfg.Headers, timeout: cfg.Timeout}
	t := m.table(L, tg)
	m.sinks[name] = t
	L.Push(t)
	return 1
}

func (m *modState) table(L *glua.LState, tg *target) *glua.LTable {
	t := L.CreateTable(0, 7)
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		t.RawSetString(strings.ToLower(method), L.NewFunction(func(L *glua.LState) int {
			return tg.request(L, method, 1)
		}))
	}
	t.RawSetString("request", L.NewFunction(func(L *glua.LState) int {
		method := strings.ToUpper(L.CheckString(1))
		if method == "" || strings.ContainsAny(method, " \t\r\n") {
			L.ArgError(1, "method must be an HTTP method such as GET or POST")
		}
		return tg.request(L, method, 2)
	}))
	return t
}

// options are a request's options, read from its Lua table.
type options struct {
	headers map[string]string
	body    []byte
	hasBody bool
	isJSON  bool // body came from a table
	timeout time.Duration
	decode  bool
	op      map[string]any // the options as the op records them
}

var optionNames = []string{"body", "headers", "json", "timeout"}

// readOptions reads the table at argument i; unknown keys are errors, so
// that a misspelt "header" does not silently send nothing.
func readOptions(L *glua.LState, i int) options {
	var o options
	switch v := L.Get(i).(type) {
	case *glua.LNilType:
		return o
	case *glua.LTable:
		o.op = map[string]any{}
		v.ForEach(func(k, val glua.LValue) {
			ks, _ := k.(glua.LString)
			switch string(ks) {
			case "headers":
				o.headers = readHeaders(L, i, val)
				o.op["headers"] = o.headers
			case "body":
				o.body, o.isJSON = readBody(L, i, val)
				o.hasBody = true
				o.op["body"] = string(o.body)
			case "timeout":
				n, ok := val.(glua.LNumber)
				if !ok || !(n > 0) || n > 24*3600*1000 {
					L.ArgError(i, "timeout must be a number of milliseconds greater than 0, not "+val.String())
				}
				o.timeout = time.Duration(float64(n) * float64(time.Millisecond))
				o.op["timeout"] = lua.Number(float64(n))
			case "json":
				b, ok := val.(glua.LBool)
				if !ok {
					L.ArgError(i, "json must be true or false")
				}
				o.decode = bool(b)
			default:
				L.ArgError(i, fmt.Sprintf("unknown option %s (options: %s)", k.String(), strings.Join(optionNames, ", ")))
			}
		})
	default:
		L.ArgError(i, "options must be a table, not a "+v.Type().String())
	}
	return o
}

func readHeaders(L *glua.LState, i int, v glua.LValue) map[string]string {
	t, ok := v.(*glua.LTable)
	if !ok {
		L.ArgError(i, "headers must be a table of name = value")
	}
	h := map[string]string{}
	t.ForEach(func(k, val glua.LValue) {
		name, ok := k.(glua.LString)
		if !ok || name == "" || strings.ContainsAny(string(name), " \t\r\n:") {
			L.ArgError(i, "header names must be non-empty strings without spaces or colons, not "+k.String())
		}
		var s string
		switch x := val.(type) {
		case glua.LString:
			s = string(x)
		case glua.LNumber:
			s = x.String()
		default:
			L.ArgError(i, fmt.Sprintf("header %s must be a string or a number, not a %s", name, val.Type()))
		}
		if strings.ContainsAny(s, "\r\n") {
			L.ArgError(i, fmt.Sprintf("header %s must not contain a line break", name))
		}
		h[string(name)] = s
	})
	return h
}

// readBody returns the bytes to send: a string as it is, a table as JSON
// (lua.ToGo's rules, written by lua.AppendJSON: exact integers, json.null as
// null, sorted keys, strings that are not UTF-8 refused).
func readBody(L *glua.LState, i int, v glua.LValue) ([]byte, bool) {
	switch x := v.(type) {
	case glua.LString:
		return []byte(x), false
	case *glua.LTable:
		g, err := lua.ToGo(L, x)
		if err != nil {
			L.ArgError(i, "body: "+err.Error())
		}
		b, err := lua.AppendJSON(nil, g)
		if err != nil {
			L.ArgError(i, "body: "+err.Error())
		}
		return b, true
	}
	L.ArgError(i, "body must be a string (sent as it is) or a table (sent as JSON), not "+describe(v))
	return nil, false
}

func describe(v glua.LValue) string {
	if lua.IsNull(v) {
		return "json.null"
	}
	return "a " + v.Type().String()
}

// parseURL accepts absolute http and https URLs only.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return u, nil
}

// resolve returns the URL to request: the argument itself for the module
// table; for a sink, the argument as a path below the sink's base.
func (tg *target) resolve(L *glua.LState, i int) string {
	s := L.CheckString(i)
	if tg.sink == "" {
		if _, err := parseURL(s); err != nil {
			L.ArgError(i, err.Error())
		}
		return s
	}
	if strings.Contains(s, "://") {
		L.ArgError(i, fmt.Sprintf("http.sink(%q) takes a path below its base URL, not an absolute URL (use http.%s for other hosts)", tg.sink, "get/post/..."))
	}
	u := strings.TrimRight(tg.base, "/")
	if s != "" {
		u += "/" + strings.TrimLeft(s, "/")
	}
	if _, err := parseURL(u); err != nil {
		L.ArgError(i, err.Error())
	}
	return u
}

// request reads url and options from the stack, starting at argument i,
// and runs the request at once (or records it).
func (tg *target) request(L *glua.LState, method string, i int) int {
	u := tg.resolve(L, i)
	o := readOptions(L, i+1)
	if tg.env.Recording() {
		return tg.record(L, method, u, o)
	}
	timeout := DefaultTimeout
	if tg.timeout > 0 {
		timeout = tg.timeout
	}
	if o.timeout > 0 {
		timeout = o.timeout
	}
	res, err := do(tg.env.Context(), method, u, tg.headers, o, timeout)
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(fmt.Sprintf("http %s %s: %v", method, redact(u), err)))
		return 2
	}
	L.Push(res.table(L))
	return 1
}

// response is what came back, in Go, until it is converted on the
// state's goroutine.
type response struct {
	status  int
	body    []byte
	headers http.Header
	decode  bool
}

func do(ctx context.Context, method, u string, sinkHeaders map[string]string, o options, timeout time.Duration) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if o.hasBody {
		body = bytes.NewReader(o.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "moontide")
	for k, v := range sinkHeaders {
		req.Header.Set(k, v)
	}
	if o.isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.decode {
		req.Header.Set("Accept", "application/json")
	}
	for k, v := range o.headers {
		req.Header.Set(k, v) // the request's own headers win
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, cause(err, ctx, timeout)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response body (status %d): %w", resp.StatusCode, cause(err, ctx, timeout))
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("response body larger than %d bytes (status %d)", MaxBody, resp.StatusCode)
	}
	return &response{status: resp.StatusCode, body: b, headers: resp.Header, decode: o.decode}, nil
}

// cause drops the *url.Error wrapper, which repeats the whole URL (query
// included), and says "timed out" plainly.
func cause(err error, ctx context.Context, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v: %w", timeout, context.DeadlineExceeded)
	}
	return err
}

// redact drops the query string and any password from a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.Redacted()
}

// table converts the response for Lua: header names in lower case, values
// of a repeated header joined with ", "; json = the decoded body when asked
// for and it decodes, else json_error says why.
func (r *response) table(L *glua.LState) *glua.LTable {
	t := L.CreateTable(0, 5)
	t.RawSetString("status", glua.LNumber(r.status))
	t.RawSetString("body", glua.LString(r.body))
	h := L.CreateTable(0, len(r.headers))
	names := make([]string, 0, len(r.headers))
	for k := range r.headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		h.RawSetString(strings.ToLower(k), glua.LString(strings.Join(r.headers[k], ", ")))
	}
	lua.MarkObject(L, h)
	t.RawSetString("headers", h)
	if r.decode {
		v, err := lua.DecodeJSON(L, r.body)
		if err != nil {
			t.RawSetString("json_error", glua.LString(err.Error()))
		} else {
			t.RawSetString("json", v)
		}
	}
	return t
}

// record keeps the request as an op in recording mode and returns the
// canned response. Outside a call (a script's top level) there is no call
// to record into and only the canned response is returned.
func (tg *target) record(L *glua.LState, method, u string, o options) int {
	key := kind
	if tg.sink != "" {
		key += ":" + tg.sink
	}
	if w, err := tg.env.Writer(key, func() lua.Writer { return &recorder{} }); err == nil {
		args := []any{u}
		if len(o.op) > 0 {
			args = append(args, o.op)
		}
		rw := w.(*recorder)
		rw.ops = append(rw.ops, lua.Op{Module: kind, Sink: tg.sink, Name: strings.ToLower(method), Args: args})
	}
	t := L.CreateTable(0, 4)
	t.RawSetString("status", glua.LNumber(0))
	t.RawSetString("body", glua.LString(""))
	h := L.CreateTable(0, 0)
	lua.MarkObject(L, h)
	t.RawSetString("headers", h)
	t.RawSetString("recorded", glua.LTrue)
	L.Push(t)
	return 1
}

// recorder is the lua.Writer of recording mode: it only lists requests.
// It exists in recording mode only, where the engine never flushes, and
// Flush has nothing to send anyway: real requests ran at once.
type recorder struct{ ops []lua.Op }

// Flush does nothing: requests are never buffered.
func (r *recorder) Flush(context.Context) error { return nil }

// Ops lists the recorded requests in call order.
func (r *recorder) Ops() []lua.Op { return r.ops }
