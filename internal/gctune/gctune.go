// Package gctune sets the garbage collector for moontide's workload: many
// short-lived values per event (Lua tables, JSON, decoded rows) over a small
// live heap bounded by the queues. The Go default, GOGC=100, collects so
// often there that collection takes a quarter of the CPU of a Lua listener;
// a higher target trades a few tens of megabytes for that time.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC moontide runs with unless the environment sets one.
// On bench/e2e it lifts the Lua no-op listener by a third (bench/README.md).
const Percent = 400

// Apply sets Percent as the collection target, unless GOGC is set, so an
// operator's choice always wins.
func Apply() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(Percent)
	}
}
