// Package all links every builtin Lua module into a binary: each builtin
// registers itself with engine/lua in its init function, so importing this
// package for its side effects is all cmd/moontide (and any test that needs
// the full module set) does:
//
//	import _ "github.com/moontide/moontide/builtins/all"
//
// Add one line here for each new builtin; builtins never import each other.
package all

import (
	_ "github.com/moontide/moontide/builtins/es"
	_ "github.com/moontide/moontide/builtins/http"
	_ "github.com/moontide/moontide/builtins/json"
	_ "github.com/moontide/moontide/builtins/log"
	_ "github.com/moontide/moontide/builtins/mysql"
	_ "github.com/moontide/moontide/builtins/redis"
)
