package redis

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

// build reads a write function's Lua arguments and returns the command to
// queue and, when they differ from cmd[1:], the arguments its lua.Op shows
// (the script's own arguments, so that redis[c].set("k", "v", 60) prints as
// it was written, not as SET k v EX 60).
type build func(L *glua.LState) (cmd, args []any)

// writes are the buffered functions, by Lua name.
var writes = map[string]build{
	// set(key, value [, ttl_seconds])
	"set": func(L *glua.LState) ([]any, []any) {
		k, v := key(L, 1, "key"), value(L, 2, "value")
		if L.Get(3) == glua.LNil {
			return []any{"SET", k, v}, nil
		}
		ttl := positive(L, 3, "ttl_seconds")
		return []any{"SET", k, v, "EX", ttl}, []any{k, v, ttl}
	},
	// del(key, ...)
	"del": func(L *glua.LState) ([]any, []any) { return keysCmd("DEL", rest(L, 1, "key", key)), nil },
	// expire(key, seconds)
	"expire": func(L *glua.LState) ([]any, []any) {
		return []any{"EXPIRE", key(L, 1, "key"), positive(L, 2, "seconds")}, nil
	},
	// hset(key, field, value) or hset(key, {field = value, ...})
	"hset": func(L *glua.LState) ([]any, []any) {
		k := key(L, 1, "key")
		t, ok := L.Get(2).(*glua.LTable)
		if !ok {
			return []any{"HSET", k, key(L, 2, "field"), value(L, 3, "value")}, nil
		}
		if L.GetTop() > 2 {
			L.ArgError(3, "hset takes either (key, field, value) or (key, {field = value, ...}), not both")
		}
		return hsetTable(L, k, t), nil
	},
	// hdel(key, field, ...)
	"hdel": func(L *glua.LState) ([]any, []any) {
		return keysCmd("HDEL", append([]string{key(L, 1, "key")}, rest(L, 2, "field", key)...)), nil
	},
	// hincrby(key, field, n)
	"hincrby": func(L *glua.LState) ([]any, []any) {
		return []any{"HINCRBY", key(L, 1, "key"), key(L, 2, "field"), integer(L, 3, "increment")}, nil
	},
	// incr(key)
	"incr": func(L *glua.LState) ([]any, []any) { return []any{"INCR", key(L, 1, "key")}, nil },
	// decr(key)
	"decr": func(L *glua.LState) ([]any, []any) { return []any{"DECR", key(L, 1, "key")}, nil },
	// incrby(key, n)
	"incrby": func(L *glua.LState) ([]any, []any) {
		return []any{"INCRBY", key(L, 1, "key"), integer(L, 2, "increment")}, nil
	},
	// decrby(key, n)
	"decrby": func(L *glua.LState) ([]any, []any) {
		return []any{"DECRBY", key(L, 1, "key"), integer(L, 2, "decrement")}, nil
	},
	// sadd(key, member, ...)
	"sadd": func(L *glua.LState) ([]any, []any) {
		return keysCmd("SADD", append([]string{key(L, 1, "key")}, rest(L, 2, "member", key)...)), nil
	},
	// srem(key, member, ...)
	"srem": func(L *glua.LState) ([]any, []any) {
		return keysCmd("SREM", append([]string{key(L, 1, "key")}, rest(L, 2, "member", key)...)), nil
	},
	// zadd(key, score, member)
	"zadd": func(L *glua.LState) ([]any, []any) {
		return []any{"ZADD", key(L, 1, "key"), score(L, 2, "score"), key(L, 3, "member")}, nil
	},
	// zrem(key, member, ...)
	"zrem": func(L *glua.LState) ([]any, []any) {
		return keysCmd("ZREM", append([]string{key(L, 1, "key")}, rest(L, 2, "member", key)...)), nil
	},
	// publish(channel, message)
	"publish": func(L *glua.LState) ([]any, []any) {
		return []any{"PUBLISH", key(L, 1, "channel"), value(L, 2, "message")}, nil
	},
}

func keysCmd(name string, keys []string) []any {
	cmd := make([]any, 0, len(keys)+1)
	cmd = append(cmd, name)
	for _, k := range keys {
		cmd = append(cmd, k)
	}
	return cmd
}

// hsetTable builds HSET key f1 v1 f2 v2 ... from a table, fields sorted so
// that equal tables give equal commands (and ops).
func hsetTable(L *glua.LState, k string, t *glua.LTable) []any {
	type fv struct {
		f string
		v glua.LValue
	}
	var pairs []fv
	t.ForEach(func(fk, v glua.LValue) {
		f, ok := lua.ObjectKey(fk)
		if !ok {
			L.ArgError(2, "field names must be strings or integers, not "+describe(fk))
		}
		pairs = append(pairs, fv{f, v})
	})
	if len(pairs) == 0 {
		L.ArgError(2, "the table of fields is empty; Redis has no empty hashes (use redis.del to remove one)")
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].f < pairs[j].f })
	cmd := make([]any, 0, 2+2*len(pairs))
	cmd = append(cmd, "HSET", k)
	for _, p := range pairs {
		v, problem := convert(p.v, "value of field "+strconv.Quote(p.f))
		if problem != "" {
			L.ArgError(2, problem)
		}
		cmd = append(cmd, p.f, v)
	}
	return cmd
}

// denied are commands that neither write nor call may send: they change
// the state of a pooled connection (SELECT, AUTH, ...), wrap or block the
// pipeline (MULTI, SUBSCRIBE, BLPOP, ...) or never return.
var denied = map[string]string{
	"SELECT": "changes the database of a shared connection: configure db on the sink",
	"AUTH":   "changes the user of a shared connection: configure username/password on the sink",
	"HELLO":  "changes the protocol of a shared connection", "RESET": "resets a shared connection",
	"QUIT": "closes a shared connection", "CLIENT": "changes a shared connection",
	"MULTI": "moontide already sends a batch as one pipeline; use a Lua function on the server (FCALL) for atomic groups",
	"EXEC":  "see MULTI", "DISCARD": "see MULTI", "WATCH": "see MULTI", "UNWATCH": "see MULTI",
	"SUBSCRIBE": "blocks the connection", "PSUBSCRIBE": "blocks the connection", "SSUBSCRIBE": "blocks the connection",
	"UNSUBSCRIBE": "blocks the connection", "PUNSUBSCRIBE": "blocks the connection", "SUNSUBSCRIBE": "blocks the connection",
	"MONITOR": "blocks the connection", "SYNC": "blocks the connection", "PSYNC": "blocks the connection",
	"BLPOP": "blocks", "BRPOP": "blocks", "BLMOVE": "blocks", "BRPOPLPUSH": "blocks", "BLMPOP": "blocks",
	"BZPOPMIN": "blocks", "BZPOPMAX": "blocks", "BZMPOP": "blocks", "WAIT": "blocks", "WAITAOF": "blocks",
	"SHUTDOWN": "stops the server", "DEBUG": "may stop the server",
}

// command reads a generic command: name then arguments, each a string or a
// number.
func command(L *glua.LState) []any {
	name := L.CheckString(1)
	if name == "" {
		L.ArgError(1, "the command name is empty")
	}
	if why, ok := denied[upper(name)]; ok {
		L.ArgError(1, upper(name)+" is not allowed from scripts: "+why)
	}
	cmd := make([]any, 0, L.GetTop())
	cmd = append(cmd, name)
	for i := 2; i <= L.GetTop(); i++ {
		cmd = append(cmd, value(L, i, "argument "+strconv.Itoa(i-1)))
	}
	return cmd
}

// writeFn returns the Lua function of a buffered write.
func (c *conn) writeFn(name string, b build) glua.LGFunction {
	return func(L *glua.LState) int {
		c.resolve(L)
		cmd, args := b(L)
		c.record(L, name, cmd, args)
		return 0
	}
}

// genericWrite is write(cmd, args...): any command, buffered like the named
// writes and sent in the batch's pipeline.
func (c *conn) genericWrite(L *glua.LState) int {
	c.resolve(L)
	cmd := command(L)
	c.record(L, "write", cmd, cmd)
	return 0
}

// record appends a command to the connection's Writer of the call in
// progress; outside a call (a script's top level) it is a Lua error.
func (c *conn) record(L *glua.LState, name string, cmd, args []any) {
	w, err := c.Env.Writer(c.writerKey(), func() lua.Writer { return &writer{c: c, ops: make([]op, 0, 64)} })
	if err != nil {
		L.RaiseError("redis.%s: %v", name, err)
	}
	rw := w.(*writer)
	rw.ops = append(rw.ops, op{name: name, cmd: cmd, args: args})
}

// op is one recorded write.
type op struct {
	name string
	cmd  []any
	args []any // nil: cmd[1:]
}

// writer is the lua.Writer of one connection in one call: the commands in
// call order, sent as one pipeline by Flush.
type writer struct {
	c   *conn
	ops []op
}

// Ops lists the recorded writes as the script made them.
func (w *writer) Ops() []lua.Op {
	out := make([]lua.Op, len(w.ops))
	for i, o := range w.ops {
		args := o.args
		if args == nil {
			args = o.cmd[1:]
		}
		out[i] = lua.Op{Module: kind, Sink: w.c.Config.Name, Name: o.name, Args: args}
	}
	return out
}

// CommandError is a command of a flushed pipeline that Redis refused
// (WRONGTYPE, an INCR on a value that is not an integer, OOM, ...). The
// other commands of the pipeline were still executed by Redis: a pipeline
// is not a transaction. The batch fails and is retried as a whole.
type CommandError struct {
	// Sink is the connection's name.
	Sink string
	// Command is the command's name in upper case, Key its first argument
	// (the key, or the channel of PUBLISH).
	Command, Key string
	// Index is the position (1-based) among the batch's writes on the
	// connection of the write the command carried, Count their number.
	// A merged MSET or DEL carries the writes Index to Last.
	Index, Last, Count int
	// Err is Redis's reply, a go-redis Error.
	Err error
}

func (e *CommandError) Error() string {
	s := "redis[" + e.Sink + "] pipeline: " + e.Command
	if e.Key != "" {
		s += " " + printable(e.Key)
	}
	if e.Last > e.Index {
		// An MSET carries SETs, a DEL DELs.
		return fmt.Sprintf("%s: %v (commands %d to %d of %d: %ss sent as one %s)", s, e.Err, e.Index, e.Last, e.Count, strings.TrimPrefix(e.Command, "M"), e.Command)
	}
	return fmt.Sprintf("%s: %v (command %d of %d)", s, e.Err, e.Index, e.Count)
}

func (e *CommandError) Unwrap() error { return e.Err }

// Runs of plain SETs (redis.set without a TTL) go to Redis as MSETs, and
// runs of redis.del as one DEL, of up to maxMerge writes: the same writes
// in the same order, as one command instead of hundreds, which saves Redis
// a third to almost half of its CPU per key and the client most of its
// work per reply (BenchmarkIntegrationRedisSet). Not on a cluster, where
// the keys of one command would have to share a slot. MSETs are not sent
// either to a server that refused one as forbidden or unknown (an ACL user
// allowed SET but not MSET, a proxy without it): that batch fails naming
// the MSET, and the client sends single SETs from then on.
const maxMerge = 256

// msetRefused holds the clients whose server refused an MSET.
var msetRefused sync.Map // goredis.UniversalClient → struct{}

// refusesMSET reports whether err says the server does not allow or know
// MSET, rather than that it failed to run it.
func refusesMSET(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "NOPERM") || strings.Contains(msg, "unknown command")
}

// sent is a command of a flushed pipeline and the recorded writes
// (ops[first:last]) it carries.
type sent struct {
	cmd         []any
	first, last int
}

// pipeline returns the commands Flush sends for w.ops: with merge, runs of
// DELs as one DEL and, with mset too, runs of plain SETs as MSETs.
func (w *writer) pipeline(merge, mset bool) []sent {
	out := make([]sent, 0, len(w.ops))
	for i := 0; i < len(w.ops); {
		j := i + 1
		into := w.ops[i].mergesInto()
		if !merge || into == "MSET" && !mset {
			into = ""
		}
		for into != "" && j < len(w.ops) && j-i < maxMerge && w.ops[j].mergesInto() == into {
			j++
		}
		cmd := w.ops[i].cmd
		if j-i > 1 {
			cmd = []any{into}
			for _, o := range w.ops[i:j] {
				cmd = append(cmd, o.cmd[1:]...)
			}
		}
		out = append(out, sent{cmd: cmd, first: i, last: j})
		i = j
	}
	return out
}

// mergesInto is the command a run of writes like o is sent as: MSET for
// redis.set(key, value), DEL for redis.del; "" when o goes as it is.
func (o op) mergesInto() string {
	switch {
	case o.name == "set" && len(o.cmd) == 3:
		return "MSET"
	case o.name == "del":
		return "DEL"
	}
	return ""
}

// Flush sends the recorded commands as one pipeline, in call order (on a
// cluster, in call order per node: go-redis splits a pipeline by slot, so
// only writes to one key keep their order relative to each other, which is
// what matters), runs of plain SETs as MSETs and of DELs as one DEL. It fails on the first refused
// command (*CommandError) or when the connection fails (dial, I/O, ctx),
// and go-redis does not retry on its own: the engine retries the batch,
// which is visible and counted.
func (w *writer) Flush(ctx context.Context) error {
	if len(w.ops) == 0 {
		return nil
	}
	cl, err := w.c.clientOf()
	if err != nil {
		return fmt.Errorf("%s: %w", w.c.label(), err)
	}
	_, refused := msetRefused.Load(cl)
	cmds := w.pipeline(w.c.Config.Mode != "cluster", !refused)
	pipe := cl.Pipeline()
	replies := make([]*goredis.Cmd, len(cmds))
	for i, s := range cmds {
		replies[i] = pipe.Do(ctx, s.cmd...)
	}
	_, err = pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	for i, reply := range replies {
		cerr := reply.Err()
		if cerr == nil || errors.Is(cerr, goredis.Nil) {
			continue // a nil reply (SET ... NX on an existing key) is no failure
		}
		var re goredis.Error
		if !errors.As(cerr, &re) {
			break // not a reply: the connection failed
		}
		s := cmds[i]
		ce := &CommandError{Sink: w.c.Config.Name, Command: upper(text(s.cmd[0])), Index: s.first + 1, Last: s.last, Count: len(w.ops), Err: cerr}
		if len(s.cmd) > 1 {
			ce.Key = text(s.cmd[1])
		}
		if ce.Command == "MSET" && refusesMSET(cerr) {
			msetRefused.Store(cl, struct{}{})
		}
		return ce
	}
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return fmt.Errorf("%s pipeline of %d commands: %w", w.c.label(), len(w.ops), err)
}

// printable returns s for a message: as it is when it is short printable
// ASCII, else quoted with escapes, cut at 200 bytes.
func printable(s string) string {
	cut := ""
	if len(s) > 200 {
		s, cut = s[:200], "..."
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' {
			return strconv.Quote(s) + cut
		}
	}
	return s + cut
}
