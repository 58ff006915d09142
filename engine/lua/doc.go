// Package lua runs listener scripts: it loads and validates the scripts of a
// directory into a Generation, builds sandboxed Lua states (one per worker
// goroutine, never shared), converts events to Lua tables and Lua values back
// to Go, and hosts the builtin modules (redis, es, json, log, ...) through the
// small Module interface that each builtin registers in its init function.
//
// What it guarantees:
//
//   - A script is compiled once per generation; every state runs the same
//     *FunctionProto, so a worker's state costs a chunk run, not a parse.
//   - A state belongs to one worker goroutine for its whole life. After a
//     timeout, a cancelled call or a Go panic inside a call it is discarded
//     and a fresh one is built on the next call.
//   - Every call into a script runs under a deadline (SetContext), so a
//     runaway loop is stopped and reported like any other failure.
//   - Values are exact: integers beyond ±2^53 reach Lua as strings of their
//     digits, never as rounded doubles; SQL NULL is NullValue (json.null),
//     never a missing key; DECIMAL, temporal and JSON columns are strings and
//     binary columns are Lua strings holding the raw bytes.
//   - Writes that builtins record during a call are sent (Writer.Flush) only
//     after the script returned successfully, and the call succeeds only when
//     every flush succeeded; on failure they are dropped, so a retried batch
//     never sends the writes of a failed attempt twice.
//
// Naming: inside moontide, gopher-lua is imported as glua, and this package
// keeps the name lua, so that builtins read lua.Register, lua.Env and
// glua.LState.
package lua
