package redis

import (
	"math"
	"strconv"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

// Argument conversion. Every function here raises a Lua error naming the
// argument (L.ArgError) on misuse, so that a wrong call fails in the script
// at the line that made it, not later in a pipeline that cannot say which
// line queued the bad command.

// value converts argument i to a Redis argument: a Lua string as its bytes
// (a Go string holding them), an integral number within the int64 range as
// an int64, any other finite number as a float64. go-redis writes int64 in
// decimal and float64 in shortest round-trip form without an exponent, so
// what reaches Redis is exact. The Go value doubles as the lua.Op argument.
func value(L *glua.LState, i int, what string) any {
	v, problem := convert(L.Get(i), what)
	if problem != "" {
		L.ArgError(i, problem)
	}
	return v
}

// convert is value for a Lua value anywhere (a table's field, say): it
// returns the Go value, or a message saying what is wrong with it.
func convert(lv glua.LValue, what string) (any, string) {
	switch v := lv.(type) {
	case glua.LString:
		return string(v), ""
	case glua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, what + " is " + v.String() + "; Redis takes finite numbers only"
		}
		return lua.Number(f), ""
	case *glua.LNilType:
		return nil, what + " is missing (nil); a Redis value is a string or a number"
	case *glua.LTable:
		return nil, what + " is a table; Redis values are strings: encode it first, e.g. json.encode(t)"
	case glua.LBool:
		return nil, what + " is a boolean; Redis has no booleans: pass a string or a number, e.g. tostring(b) or (b and 1 or 0)"
	}
	if lua.IsNull(lv) {
		return nil, what + " is json.null; Redis has no null: skip the write, delete the key (redis.del) or store a marker string"
	}
	return nil, what + " is a " + lv.Type().String() + "; a Redis value is a string or a number"
}

// key converts argument i to a key (or field, member, channel: anything
// Redis treats as a name). Strings are taken as they are; numbers in the
// decimal form value would send, so redis.set(42, ...) writes key "42".
func key(L *glua.LState, i int, what string) string {
	if s, ok := L.Get(i).(glua.LString); ok {
		return string(s)
	}
	return text(value(L, i, what))
}

// text renders a value argument as Redis will see it.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// integer converts argument i to an int64: an integral number, or a
// string of decimal digits (BIGINT columns beyond 2^53 reach Lua as
// strings). Amounts and seconds must be exact; 1.5 is an error, not 1.
func integer(L *glua.LState, i int, what string) int64 {
	switch v := L.Get(i).(type) {
	case glua.LNumber:
		f := float64(v)
		if n, ok := lua.Number(f).(int64); ok {
			return n
		}
		L.ArgError(i, what+" must be an integer, not "+v.String())
	case glua.LString:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			L.ArgError(i, what+" must be an integer, not the string "+strconv.Quote(string(v)))
		}
		return n
	default:
		L.ArgError(i, what+" must be an integer, not "+describe(v))
	}
	return 0
}

// positive is integer for durations: seconds must be at least 1, because
// Redis deletes a key given a zero or negative expiry, which is never what
// a script that says "expire" means (use del).
func positive(L *glua.LState, i int, what string) int64 {
	n := integer(L, i, what)
	if n < 1 {
		L.ArgError(i, what+" must be at least 1 (Redis deletes a key given an expiry of 0 or less; use redis.del for that)")
	}
	return n
}

// score converts a sorted-set score: a finite number, or a string that
// parses as one (a DECIMAL column reaches Lua as a string).
func score(L *glua.LState, i int, what string) any {
	switch v := L.Get(i).(type) {
	case glua.LNumber:
		return value(L, i, what)
	case glua.LString:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsNaN(f) {
			L.ArgError(i, what+" must be a number, not the string "+strconv.Quote(string(v)))
		}
		return string(v) // sent as written: Redis parses it the same way
	default:
		L.ArgError(i, what+" must be a number, not "+describe(v))
	}
	return nil
}

// rest converts arguments from..top with conv; at least one is required.
func rest(L *glua.LState, from int, what string, conv func(*glua.LState, int, string) string) []string {
	top := L.GetTop()
	if top < from {
		L.ArgError(from, "at least one "+what+" is required")
	}
	out := make([]string, 0, top-from+1)
	for i := from; i <= top; i++ {
		out = append(out, conv(L, i, what))
	}
	return out
}

// describe names a Lua value's type for messages, json.null included.
func describe(v glua.LValue) string {
	if lua.IsNull(v) {
		return "json.null"
	}
	if v == glua.LNil {
		return "nil (missing)"
	}
	return "a " + v.Type().String()
}
