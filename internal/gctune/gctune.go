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
// The live heap of a listener is a few megabytes, so each collection is
// cheap but its fixed cost recurs every few thousand events: on bench/e2e,
// 400 instead of 100 lifted the Lua no-op listener by a third, and 800
// instead of 400 took 12% off the demo listener's CPU for about 40 MB more
// resident memory (bench/README.md).
const Percent = 800

// Apply sets Percent as the collection target, unless GOGC is set, so an
// operator's choice always wins.
func Apply() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(Percent)
	}
}
