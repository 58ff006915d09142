package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"time"
)

// Sink types. Each names the builtin Lua module that uses the connection.
const (
	SinkRedis = "redis"
	SinkES    = "es"
	SinkMySQL = "mysql"
	SinkHTTP  = "http"
)

// Redis connection modes.
const (
	RedisStandalone = "standalone"
	RedisSentinel   = "sentinel"
	RedisCluster    = "cluster"
)

// Sink is one named connection that scripts write to (and read from).
// One struct serves every type so that conf.d stays flat; Validate rejects
// keys that do not apply to the sink's type, so a redis key on an es sink
// is an error, not silently ignored.
type Sink struct {
	// Type is redis, es, mysql or http. Required.
	Type string `yaml:"type"`
	// Default makes this the connection a script gets when it does not
	// name one. When a type has a single sink, that sink is the default.
	Default bool `yaml:"default,omitempty"`

	// Addr is host:port of a standalone Redis.
	Addr string `yaml:"addr,omitempty"`
	// Addrs are the sentinel addresses (mode sentinel) or the cluster
	// seed nodes (mode cluster).
	Addrs StringList `yaml:"addrs,omitempty"`
	// Mode is standalone, sentinel or cluster; redis only. The default is
	// standalone.
	Mode string `yaml:"mode,omitempty"`
	// MasterName is the sentinel master set name; required in sentinel mode.
	MasterName string `yaml:"master_name,omitempty"`
	// DB is the Redis database number; not allowed in cluster mode.
	DB int `yaml:"db,omitempty"`

	// URL is the base URL of an http sink, or of one Elasticsearch /
	// OpenSearch node.
	URL string `yaml:"url,omitempty"`
	// URLs lists several Elasticsearch / OpenSearch nodes.
	URLs StringList `yaml:"urls,omitempty"`
	// Headers are sent with every request of an http sink, e.g. an
	// Authorization header. Their values are treated as secrets.
	Headers map[string]string `yaml:"headers,omitempty"`

	// DSN is the mysql:// URL of a mysql sink.
	DSN string `yaml:"dsn,omitempty"`

	// Username and Password authenticate redis (ACL) and es sinks; a
	// mysql sink carries them in its DSN.
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"password,omitempty"`

	// Timeout bounds each request to the sink. The default is 5s.
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

func (s *Sink) setDefaults() {
	if s.Type == SinkRedis && s.Mode == "" {
		s.Mode = RedisStandalone
	}
	if s.Timeout == 0 {
		s.Timeout = 5 * time.Second
	}
}

// Endpoints returns the addresses or URLs to connect to, whichever form
// the sink was written in, so clients need not care.
func (s Sink) Endpoints() []string {
	switch s.Type {
	case SinkRedis:
		if s.Addr != "" {
			return []string{s.Addr}
		}
		return append([]string(nil), s.Addrs...)
	case SinkMySQL:
		return []string{s.DSN}
	default:
		if s.URL != "" {
			return append([]string{s.URL}, s.URLs...)
		}
		return append([]string(nil), s.URLs...)
	}
}

var sinkNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// Validate checks one sink by its type.
func (s Sink) Validate() error {
	var p problems
	// only lists keys that must be absent for this type.
	only := func(types string, set bool, key string) {
		if set {
			p.add(key, "does not apply to %s sinks (only %s)", s.Type, types)
		}
	}
	switch s.Type {
	case SinkRedis:
		switch s.Mode {
		case RedisStandalone:
			if s.Addr == "" {
				p.add("addr", "required for a standalone redis sink (host:port)")
			}
			only("sentinel and cluster", len(s.Addrs) > 0, "addrs")
		case RedisSentinel, RedisCluster:
			if len(s.Addrs) == 0 {
				p.add("addrs", "required in %s mode", s.Mode)
			}
			only("standalone redis", s.Addr != "", "addr")
		default:
			p.add("mode", "must be standalone, sentinel or cluster, not %q", s.Mode)
		}
		if s.Addr != "" {
			checkHostPort(&p, "addr", s.Addr)
		}
		for i, a := range s.Addrs {
			checkHostPort(&p, indexPath("addrs", i), a)
		}
		if s.Mode == RedisSentinel && s.MasterName == "" {
			p.add("master_name", "required in sentinel mode")
		}
		if s.Mode != RedisSentinel && s.MasterName != "" {
			p.add("master_name", "applies only in sentinel mode")
		}
		if s.Mode == RedisCluster && s.DB != 0 {
			p.add("db", "redis cluster has only database 0")
		}
		if s.DB < 0 {
			p.add("db", "must not be negative")
		}
		only("es and http", s.URL != "" || len(s.URLs) > 0, "url")
		only("http", len(s.Headers) > 0, "headers")
		only("mysql", s.DSN != "", "dsn")
	case SinkES, SinkHTTP:
		if s.URL == "" && len(s.URLs) == 0 {
			p.add("url", "required for %s sinks", s.Type)
		}
		if s.URL != "" {
			checkHTTPURL(&p, "url", s.URL)
		}
		for i, u := range s.URLs {
			checkHTTPURL(&p, indexPath("urls", i), u)
		}
		if s.Type == SinkHTTP {
			only("es", len(s.URLs) > 0, "urls")
			only("redis and es", s.Username != "" || s.Password != "", "username/password")
		} else {
			only("http", len(s.Headers) > 0, "headers")
		}
		only("redis", s.Addr != "" || len(s.Addrs) > 0, "addr")
		only("redis", s.Mode != "" || s.MasterName != "" || s.DB != 0, "mode/master_name/db")
		only("mysql", s.DSN != "", "dsn")
	case SinkMySQL:
		if s.DSN == "" {
			p.add("dsn", "required for mysql sinks (a mysql:// URL)")
		} else if _, err := ParseMySQLDSN(s.DSN); err != nil {
			p.add("dsn", "%v", err)
		}
		only("redis and es (put them in the dsn)", s.Username != "" || s.Password != "", "username/password")
		only("redis", s.Addr != "" || len(s.Addrs) > 0, "addr")
		only("redis", s.Mode != "" || s.MasterName != "" || s.DB != 0, "mode/master_name/db")
		only("es and http", s.URL != "" || len(s.URLs) > 0, "url")
		only("http", len(s.Headers) > 0, "headers")
	case "":
		p.add("type", "required: redis, es, mysql or http")
	default:
		p.add("type", "must be redis, es, mysql or http, not %q", s.Type)
	}
	if s.Timeout < 0 {
		p.add("timeout", "must not be negative")
	}
	return p.err()
}

// Sinks are the named connections scripts use.
type Sinks map[string]Sink

// Names returns the sink names in order, for stable output.
func (ss Sinks) Names() []string {
	names := make([]string, 0, len(ss))
	for n := range ss {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Default returns the name of the sink a script gets for typ when it does
// not name one: the one marked default, else the only sink of that type.
func (ss Sinks) Default(typ string) (string, bool) {
	var only []string
	for _, n := range ss.Names() {
		s := ss[n]
		if s.Type != typ {
			continue
		}
		if s.Default {
			return n, true
		}
		only = append(only, n)
	}
	if len(only) == 1 {
		return only[0], true
	}
	return "", false
}

// Validate checks every sink and that each type has at most one default.
func (ss Sinks) Validate() error {
	var p problems
	defaults := map[string]string{}
	for _, name := range ss.Names() {
		s := ss[name]
		if !sinkNameRe.MatchString(name) {
			p.add(name, "sink names start with a letter and hold only letters, digits, _ and -")
		}
		p.nest(name, s.Validate())
		if s.Default {
			if prev, dup := defaults[s.Type]; dup {
				p.add(name+".default", "sinks %s and %s are both the default %s sink", prev, name, s.Type)
			}
			defaults[s.Type] = name
		}
	}
	return p.err()
}

func checkHostPort(p *problems, key, v string) {
	if _, _, err := net.SplitHostPort(v); err != nil {
		p.add(key, "%q is not host:port", v)
	}
}

func checkHTTPURL(p *problems, key, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "%q is not an http:// or https:// URL", Redact(v))
	}
}

func indexPath(key string, i int) string { return fmt.Sprintf("%s[%d]", key, i) }
