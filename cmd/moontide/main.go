// Command moontide is the one moontide binary: it captures MySQL/MariaDB
// row changes from the binlog, carries them through Kafka or an in-memory
// queue, and dispatches them in batches to Lua listener scripts. Each
// subcommand lives in its own file so the engine work behind it can land
// without touching the others.
package main

import (
	"os"

	// Every builtin Lua module registers itself.
	_ "github.com/moontide/moontide/builtins/all"
	"github.com/moontide/moontide/internal/gctune"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	gctune.Apply()
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
