package lua

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// Causes of a failed call, for errors.Is.
var (
	// ErrReturnedFalse: handle (or an on_* handler) returned false.
	ErrReturnedFalse = errors.New("handler returned false")
	// ErrPanic: Go code (a builtin) panicked inside the call; the state
	// was discarded.
	ErrPanic = errors.New("panic inside a call")
	// ErrScript: the script raised a Lua error.
	ErrScript = errors.New("script error")
)

// CallError is why a batch (or an ad-hoc script) failed. Its message names
// the listener, the file and line the error was raised at, and the events
// of the batch, so that a log line alone locates the problem:
//
//	listener "orders-cache": scripts/orders_cache.lua:12: boom (events 7-3 .. 7-9)
//
// Err is the cause: ErrScript, ErrReturnedFalse, ErrPanic,
// context.DeadlineExceeded for a timeout, context.Canceled, or the error of
// a Writer's Flush.
type CallError struct {
	Listener string
	// File and Line locate the error in a script or lib module, when known.
	File string
	Line int
	// Msg is the error message without the location prefix.
	Msg string
	// First and Last are the ids of the batch's first and last events.
	First, Last string
	// Event is the id of the event whose handler failed, when known (per-
	// action handlers).
	Event string
	// Timeout is the listener's timeout, set when the call ran out of it.
	Timeout time.Duration
	// Trace is the Lua stack traceback, for debug logs.
	Trace string
	Err   error
}

func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listener %q: ", e.Listener)
	if e.Timeout > 0 {
		fmt.Fprintf(&b, "timed out after %s", e.Timeout)
		if e.File != "" {
			fmt.Fprintf(&b, " at %s:%d", e.File, e.Line)
		}
	} else {
		if e.File != "" {
			b.WriteString(e.File)
			if e.Line > 0 {
				fmt.Fprintf(&b, ":%d", e.Line)
			}
			b.WriteString(": ")
		}
		b.WriteString(e.Msg)
	}
	if e.Event != "" {
		fmt.Fprintf(&b, " (event %s", e.Event)
		if e.First != "" {
			fmt.Fprintf(&b, " of %s .. %s", e.First, e.Last)
		}
		b.WriteByte(')')
	} else if e.First != "" {
		fmt.Fprintf(&b, " (events %s .. %s)", e.First, e.Last)
	}
	return b.String()
}

func (e *CallError) Unwrap() error { return e.Err }

// luaLoc matches the "file:line: " prefix gopher-lua puts on errors raised
// from Lua code.
var luaLoc = regexp.MustCompile(`^([^\s:][^:\n]*):(\d+): `)

// splitLoc separates a Lua error message into file, line and message.
func splitLoc(msg string) (file string, line int, rest string) {
	m := luaLoc.FindStringSubmatch(msg)
	if m == nil {
		return "", 0, msg
	}
	line, _ = strconv.Atoi(m[2])
	return m[1], line, msg[len(m[0]):]
}

// fromLuaError fills a CallError from an error of PCall.
func fromLuaError(ce *CallError, err error) {
	var ae *glua.ApiError
	if !errors.As(err, &ae) {
		ce.Msg = err.Error()
		return
	}
	msg := ae.Object.String()
	// Errors raised again through nested protected calls pile up
	// locations ("a.lua:3: b.lua:9: msg"); the innermost names the cause.
	for {
		f, l, rest := splitLoc(msg)
		if f == "" {
			break
		}
		ce.File, ce.Line, msg = f, l, rest
		if nf, _, _ := splitLoc(rest); nf == "" {
			break
		}
	}
	ce.Msg = msg
	ce.Trace = ae.StackTrace
}
