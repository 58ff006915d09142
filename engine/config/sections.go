package config

import (
	"net"
	"time"
)

// Checkpoint store kinds.
const (
	StoreFile  = "file"
	StoreRedis = "redis"
	StoreMySQL = "mysql"
)

// Checkpoint says where capture keeps the binlog position it has safely
// delivered. The position only ever moves past acknowledged events.
type Checkpoint struct {
	// Store is file, redis or mysql. The default is file.
	Store string `yaml:"store"`
	// Path of the file store, relative to the working directory. The
	// default is var/checkpoint.json.
	Path string `yaml:"path"`
	// Sink names the sinks entry a redis or mysql store writes to. The
	// default is that type's default sink.
	Sink string `yaml:"sink"`
	// Key is the Redis key of the redis store. The default is
	// moontide:checkpoint.
	Key string `yaml:"key"`
	// Table is the table of the mysql store, created if missing. The
	// default is moontide_checkpoint.
	Table string `yaml:"table"`
}

func defaultCheckpoint() Checkpoint {
	return Checkpoint{
		Store: StoreFile,
		Path:  "var/checkpoint.json",
		Key:   "moontide:checkpoint",
		Table: "moontide_checkpoint",
	}
}

// Validate checks the section on its own; that Sink names a sink of the
// right type is checked by Config.Validate, which sees the sinks.
func (c Checkpoint) Validate() error {
	var p problems
	switch c.Store {
	case StoreFile:
		if c.Path == "" {
			p.add("path", "required for the file store")
		}
	case StoreRedis:
		if c.Key == "" {
			p.add("key", "required for the redis store")
		}
	case StoreMySQL:
		if !identRe.MatchString(c.Table) {
			p.add("table", "%q is not a plain table name", c.Table)
		}
	default:
		p.add("store", "must be file, redis or mysql, not %q", c.Store)
	}
	return p.err()
}

// Scripts configures the Lua listeners.
type Scripts struct {
	// Dir holds the listener scripts (*.lua) and lib/ for require. It is
	// relative to the working directory. The default is scripts.
	Dir string `yaml:"dir"`
	// Timeout is the deadline of one call into a script (one batch). A
	// call that runs longer is stopped and retried like any failure. The
	// default is 5s.
	Timeout time.Duration `yaml:"timeout"`
	// Workers is how many workers a listener gets when its script does
	// not say. Events of one row always go to the same worker. The
	// default is 1.
	Workers int `yaml:"workers"`
	// Batch is the most events per call when a script does not say. The
	// default is 500.
	Batch int `yaml:"batch"`
}

func defaultScripts() Scripts {
	return Scripts{Dir: "scripts", Timeout: 5 * time.Second, Workers: 1, Batch: 500}
}

// Validate checks the section on its own.
func (s Scripts) Validate() error {
	var p problems
	if s.Dir == "" {
		p.add("dir", "must not be empty")
	}
	if s.Timeout <= 0 {
		p.add("timeout", "must be positive, not %s", s.Timeout)
	}
	if s.Workers < 1 {
		p.add("workers", "must be at least 1, not %d", s.Workers)
	}
	if s.Batch < 1 {
		p.add("batch", "must be at least 1, not %d", s.Batch)
	}
	return p.err()
}

// Admin is the HTTP server for /metrics, /healthz, /status, POST /reload
// and POST /sync, and what moontide status and reload talk to.
type Admin struct {
	// Listen is host:port. The default, 127.0.0.1:9464, is reachable only
	// from the same host; port 0 picks a free port.
	Listen string `yaml:"listen"`
	// Token, when set, must be sent as "Authorization: Bearer <token>".
	// It is required when Listen is not a loopback address.
	Token string `yaml:"token"`
}

func defaultAdmin() Admin { return Admin{Listen: "127.0.0.1:9464"} }

// Validate checks the section on its own.
func (a Admin) Validate() error {
	var p problems
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil {
		p.add("listen", "%q is not host:port", a.Listen)
		return p.err()
	}
	if !isLoopback(host) && a.Token == "" {
		p.add("token", "required when admin.listen (%s) is not a loopback address: /reload and /sync must not be open to the network", a.Listen)
	}
	return p.err()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Log configures the process log (log/slog).
type Log struct {
	// Level is debug, info, warn or error. The default is info.
	Level string `yaml:"level"`
	// Format is text (for terminals) or json (for collectors). The
	// default is text.
	Format string `yaml:"format"`
}

func defaultLog() Log { return Log{Level: "info", Format: "text"} }

// Validate checks the section on its own.
func (l Log) Validate() error {
	var p problems
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("level", "must be debug, info, warn or error, not %q", l.Level)
	}
	switch l.Format {
	case "text", "json":
	default:
		p.add("format", "must be text or json, not %q", l.Format)
	}
	return p.err()
}
