package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// minimal is a valid first file so each case only writes what it tests.
const minimal = `source:
  dsn: mysql://u:secret@db:3306/shop
`

// env turns a map into a Lookup; names not in the map are unset.
func env(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// writeDir writes files (name → content) into a fresh directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{
			name:  "defaults fill every key a file leaves out",
			files: map[string]string{"10-source.yaml": minimal},
			check: func(t *testing.T, c *Config) {
				want := Default()
				want.Source.DSN = "mysql://u:secret@db:3306/shop"
				if !reflect.DeepEqual(c.Source, want.Source) || !reflect.DeepEqual(c.Kafka, want.Kafka) ||
					c.Checkpoint != want.Checkpoint || c.Scripts != want.Scripts || c.Admin != want.Admin || c.Log != want.Log {
					t.Errorf("got %+v\nwant defaults %+v", c, want)
				}
				if !c.Kafka.Embedded() {
					t.Error("no brokers should mean embedded mode")
				}
			},
		},
		{
			name: "a later file overrides one scalar and keeps its siblings",
			files: map[string]string{
				"10-source.yaml": minimal + "  server_id: 7\n  flavor: mysql\n",
				"90-local.yaml":  "source:\n  server_id: 8\n",
			},
			check: func(t *testing.T, c *Config) {
				if c.Source.ServerID != 8 || c.Source.Flavor != "mysql" || c.Source.DSN == "" {
					t.Errorf("source = %+v", c.Source)
				}
			},
		},
		{
			name: "files merge in lexical order, so 10 comes before 9",
			files: map[string]string{
				"9-log.yaml":  minimal + "log:\n  level: debug\n",
				"10-log.yaml": "log:\n  level: warn\n",
			},
			check: func(t *testing.T, c *Config) {
				if c.Log.Level != "debug" {
					t.Errorf("level = %q, want debug from 9-log.yaml, read after 10-log.yaml", c.Log.Level)
				}
				if len(c.Files) != 2 || filepath.Base(c.Files[0]) != "10-log.yaml" {
					t.Errorf("files = %v", c.Files)
				}
			},
		},
		{
			name: "sinks merge by name and key by key",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml": `sinks:
  cache:
    type: redis
    addr: 127.0.0.1:6379
    db: 2
  search:
    type: es
    url: http://es:9200
`,
				"90-local.yaml": `sinks:
  cache:
    addr: 10.0.0.1:6379
  dest:
    type: mysql
    dsn: mysql://u:p@db/dest
`,
			},
			check: func(t *testing.T, c *Config) {
				if got := c.Sinks.Names(); !reflect.DeepEqual(got, []string{"cache", "dest", "search"}) {
					t.Fatalf("sinks = %v", got)
				}
				cache := c.Sinks["cache"]
				if cache.Addr != "10.0.0.1:6379" || cache.DB != 2 || cache.Type != SinkRedis || cache.Mode != RedisStandalone || cache.Timeout != 5*time.Second {
					t.Errorf("cache = %+v", cache)
				}
				if name, ok := c.Sinks.Default(SinkRedis); !ok || name != "cache" {
					t.Errorf("default redis = %q, %v; a lone sink of its type is the default", name, ok)
				}
			},
		},
		{
			name: "null in a later file drops a sink and returns a key to its default",
			files: map[string]string{
				"10-source.yaml": minimal + "  heartbeat: 30s\n",
				"40-sinks.yaml":  "sinks:\n  old:\n    type: redis\n    addr: a:1\n  keep:\n    type: redis\n    addr: b:1\n",
				"90-local.yaml":  "source:\n  heartbeat: ~\nsinks:\n  old: null\n",
			},
			check: func(t *testing.T, c *Config) {
				if _, ok := c.Sinks["old"]; ok || len(c.Sinks) != 1 {
					t.Errorf("sinks = %v", c.Sinks.Names())
				}
				if c.Source.Heartbeat != time.Second {
					t.Errorf("heartbeat = %s, want the default", c.Source.Heartbeat)
				}
			},
		},
		{
			name: "only .yaml and .yml files count, dotfiles do not",
			files: map[string]string{
				"10-source.yml":   minimal,
				"README.md":       "source: [not yaml for us",
				".90-local.yaml":  "source:\n  server_id: 0\n",
				"20-kafka.yaml~":  "garbage: {",
				"30-empty.yaml":   "",
				"31-comment.yaml": "# nothing here yet\n",
			},
			check: func(t *testing.T, c *Config) {
				if len(c.Files) != 3 {
					t.Errorf("files = %v", c.Files)
				}
			},
		},
		{
			name: "documents of one file merge in order",
			files: map[string]string{
				"10-all.yaml": minimal + "log:\n  level: debug\n---\nlog:\n  format: json\n",
			},
			check: func(t *testing.T, c *Config) {
				if c.Log != (Log{Level: "debug", Format: "json"}) {
					t.Errorf("log = %+v", c.Log)
				}
			},
		},
		{
			name: "variables expand with defaults, and $$ is a dollar",
			files: map[string]string{
				"10-source.yaml": `source:
  dsn: mysql://${DB_USER}:${DB_PASS}@${DB_HOST:-db}:3306/shop
  include: ${INCLUDE:-shop.*}
  server_id: ${SERVER_ID:-4242}
  charset: ${CHARSET:-utf8mb4}
kafka:
  topic_prefix: ${PREFIX:-cdc}
  group_prefix: "$${literal}"
sinks:
  cache:
    type: redis
    addr: r:1
    password: ${REDIS_PASS}
    username: $user
`,
			},
			env: map[string]string{"DB_USER": "app", "DB_PASS": "p%40ss", "CHARSET": "", "REDIS_PASS": "p#ss: 'x\" ${NOT_EXPANDED}"},
			check: func(t *testing.T, c *Config) {
				d, err := c.Source.MySQLDSN()
				if err != nil {
					t.Fatal(err)
				}
				if d.User != "app" || d.Password != "p@ss" || d.Host != "db" {
					t.Errorf("dsn = %+v", d)
				}
				if got := c.Sinks["cache"].Password; got != "p#ss: 'x\" ${NOT_EXPANDED}" {
					t.Errorf("password = %q; a secret holding YAML syntax must survive, and is not expanded again", got)
				}
				if got := c.Sinks["cache"].Username; got != "$user" {
					t.Errorf("username = %q; a $ not followed by { stays", got)
				}
				if !reflect.DeepEqual(c.Source.Include, StringList{"shop.*"}) {
					t.Errorf("include = %q", c.Source.Include)
				}
				if c.Source.ServerID != 4242 {
					t.Errorf("server_id = %d; an expanded plain scalar must become a number", c.Source.ServerID)
				}
				if c.Source.Charset != "utf8mb4" {
					t.Errorf("charset = %q; a default applies to a set but empty variable", c.Source.Charset)
				}
				if c.Kafka.TopicPrefix != "cdc" || c.Kafka.GroupPrefix != "${literal}" {
					t.Errorf("kafka = %+v", c.Kafka)
				}
			},
		},
		{
			name: "brokers from a comma-separated variable",
			files: map[string]string{
				"10-source.yaml": minimal,
				"20-kafka.yaml":  "kafka:\n  brokers: ${BROKERS:-}\n",
			},
			env: map[string]string{"BROKERS": "k1:9092, k2:9092,,"},
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.Kafka.Brokers, StringList{"k1:9092", "k2:9092"}) || c.Kafka.Embedded() {
					t.Errorf("brokers = %q", c.Kafka.Brokers)
				}
			},
		},
		{
			name: "brokers from an unset variable mean embedded mode",
			files: map[string]string{
				"10-source.yaml": minimal,
				"20-kafka.yaml":  "kafka:\n  brokers: ${BROKERS:-}\n",
			},
			check: func(t *testing.T, c *Config) {
				if len(c.Kafka.Brokers) != 0 || !c.Kafka.Embedded() {
					t.Errorf("brokers = %q", c.Kafka.Brokers)
				}
			},
		},
		{
			name: "brokers as a YAML list, replaced whole by a later file",
			files: map[string]string{
				"10-source.yaml": minimal,
				"20-kafka.yaml":  "kafka:\n  brokers: [a:1, b:2, c:3]\n",
				"90-local.yaml":  "kafka:\n  brokers:\n    - d:4\n",
			},
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.Kafka.Brokers, StringList{"d:4"}) {
					t.Errorf("brokers = %q", c.Kafka.Brokers)
				}
			},
		},
		{
			name: "anchors and merge keys work within a file",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml": `sinks:
  a: &redis
    type: redis
    addr: a:1
    timeout: 2s
  b:
    <<: *redis
    addr: b:1
`,
			},
			check: func(t *testing.T, c *Config) {
				b := c.Sinks["b"]
				if b.Type != SinkRedis || b.Addr != "b:1" || b.Timeout != 2*time.Second {
					t.Errorf("b = %+v", b)
				}
			},
		},
		{
			name: "a checkpoint store finds its sink by type",
			files: map[string]string{
				"10-source.yaml": minimal,
				"30-cp.yaml":     "checkpoint:\n  store: mysql\n",
				"40-sinks.yaml":  "sinks:\n  a:\n    type: mysql\n    dsn: mysql://u@h/a\n  b:\n    type: mysql\n    dsn: mysql://u@h/b\n    default: true\n",
			},
			check: func(t *testing.T, c *Config) {
				if got := c.CheckpointSink(); got != "b" {
					t.Errorf("checkpoint sink = %q, want the default mysql sink b", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			c, err := LoadWith(dir, env(tt.env))
			if err != nil {
				t.Fatalf("LoadWith: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		env   map[string]string
		want  []string // substrings of the error, in order
	}{
		{
			name: "a misspelled key in the second file names that file and line",
			files: map[string]string{
				"10-source.yaml": minimal,
				"20-local.yaml":  "# local tweaks\nsource:\n  flavor: mysql\n  serverid: 7\n",
			},
			want: []string{"20-local.yaml:4: ", `unknown key "serverid" in source; did you mean "server_id"?`},
		},
		{
			name: "an unknown section lists the known ones",
			files: map[string]string{
				"10-source.yaml": minimal + "sources: {}\n",
			},
			want: []string{"10-source.yaml:3: ", `unknown key "sources" at the top level; did you mean "source"?`},
		},
		{
			name: "an unknown key inside a sink names the sink",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml":  "sinks:\n  cache:\n    type: redis\n    adr: x:1\n",
			},
			want: []string{"40-sinks.yaml:4: ", `unknown key "adr" in sinks.cache; did you mean "addr"?`},
		},
		{
			name: "a far-off key lists the keys of its section",
			files: map[string]string{
				"10-source.yaml": minimal + "log:\n  colour: true\n",
			},
			want: []string{"10-source.yaml:4: ", `unknown key "colour" in log; known keys: format, level`},
		},
		{
			name: "a value of the wrong type names file and line",
			files: map[string]string{
				"10-source.yaml": minimal,
				"20-kafka.yaml":  "kafka:\n  partitions: many\n",
			},
			want: []string{"20-kafka.yaml:2: ", "cannot unmarshal !!str `many` into int"},
		},
		{
			name: "a duration without a unit is an error",
			files: map[string]string{
				"10-source.yaml": minimal + "  heartbeat: 5\n",
			},
			want: []string{"10-source.yaml:3: ", "into time.Duration"},
		},
		{
			name: "broken YAML names file and line",
			files: map[string]string{
				"10-source.yaml": minimal + "kafka:\n  brokers: [a:1\n",
			},
			want: []string{"10-source.yaml:", "did not find expected"},
		},
		{
			name: "a merge key is checked for unknown keys too",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml":  "sinks:\n  a: &r\n    type: redis\n    addr: a:1\n    colour: red\n  b:\n    <<: *r\n",
			},
			want: []string{"40-sinks.yaml:5: ", `unknown key "colour" in sinks.a`},
		},
		{
			name: "a file that is not a mapping is refused",
			files: map[string]string{
				"10-source.yaml": "- source\n",
			},
			want: []string{"10-source.yaml:1: expected a mapping of sections"},
		},
		{
			name: "an unset variable without default names file, line and variable",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml":  "sinks:\n  cache:\n    type: redis\n    addr: ${REDIS_ADDR}\n",
			},
			want: []string{"40-sinks.yaml:4: ", "environment variable REDIS_ADDR is not set"},
		},
		{
			name: "a malformed variable reference is an error",
			files: map[string]string{
				"10-source.yaml": minimal + "  charset: ${CHARSET-utf8}\n",
			},
			want: []string{"10-source.yaml:3: ", "bad variable reference ${CHARSET-utf8}"},
		},
		{
			name:  "a directory without yaml files is an error",
			files: map[string]string{"README.md": "hi"},
			want:  []string{"holds no *.yaml files"},
		},
		{
			name:  "a missing dsn is reported as a required key",
			files: map[string]string{"70-log.yaml": "log:\n  level: info\n"},
			want:  []string{"source.dsn: required"},
		},
		{
			name: "validation names the file and line that set the bad value",
			files: map[string]string{
				"10-source.yaml": minimal + "  server_id: 5\n",
				"90-local.yaml":  "source:\n  server_id: 0\n",
			},
			want: []string{"90-local.yaml:2: source.server_id: must not be 0"},
		},
		{
			name: "every validation problem is reported at once",
			files: map[string]string{
				"10-source.yaml": minimal + "  flavor: postgres\n  include: [shop, a.b.c, '*.*']\n  start: mysql-bin.000001:abc\n",
				"70-log.yaml":    "log:\n  level: loud\n  format: xml\n",
			},
			want: []string{
				"6 problems:",
				"10-source.yaml:3: source.flavor: must be mysql or mariadb",
				"source.start:",
				`10-source.yaml:4: source.include[0]: pattern "shop": want schema.table`,
				`source.include[1]: pattern "a.b.c"`,
				"70-log.yaml:2: log.level: must be debug, info, warn or error",
				"70-log.yaml:3: log.format: must be text or json",
			},
		},
		{
			name: "a sentinel redis sink needs addrs and master_name",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml":  "sinks:\n  cache:\n    type: redis\n    mode: sentinel\n    addr: x:1\n",
			},
			want: []string{"sinks.cache.addrs: required in sentinel mode", "sinks.cache.addr: does not apply", "sinks.cache.master_name: required in sentinel mode"},
		},
		{
			name: "a key of another sink type is an error",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml":  "sinks:\n  search:\n    type: es\n    url: http://es:9200\n    db: 3\n",
			},
			want: []string{"40-sinks.yaml:2: sinks.search.mode/master_name/db: does not apply to es sinks"},
		},
		{
			name: "a sink without a type is an error",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml":  "sinks:\n  x:\n    url: http://a\n",
			},
			want: []string{"sinks.x.type: required"},
		},
		{
			name: "two default sinks of one type are an error",
			files: map[string]string{
				"10-source.yaml": minimal,
				"40-sinks.yaml":  "sinks:\n  a:\n    type: redis\n    addr: a:1\n    default: true\n  b:\n    type: redis\n    addr: b:1\n    default: true\n",
			},
			want: []string{"sinks a and b are both the default redis sink"},
		},
		{
			name: "a redis checkpoint store needs a redis sink",
			files: map[string]string{
				"10-source.yaml": minimal + "checkpoint:\n  store: redis\n  sink: search\n",
				"40-sinks.yaml":  "sinks:\n  search:\n    type: es\n    url: http://es:9200\n",
			},
			want: []string{`checkpoint.sink: sink "search" is es, the redis store needs a redis sink`},
		},
		{
			name: "an admin server open to the network needs a token",
			files: map[string]string{
				"10-source.yaml": minimal + "admin:\n  listen: 0.0.0.0:9464\n",
			},
			want: []string{"admin.token: required when admin.listen (0.0.0.0:9464) is not a loopback address"},
		},
		{
			name: "a bad dsn is reported without its password",
			files: map[string]string{
				"10-source.yaml": "source:\n  dsn: postgres://u:hunter2@db/x\n",
			},
			want: []string{"source.dsn: parsing mysql dsn", "REDACTED", "scheme must be mysql://"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			_, err := LoadWith(dir, env(tt.env))
			if err == nil {
				t.Fatal("LoadWith succeeded, want an error")
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q\ndoes not contain %q (after the previous match)", msg, w)
				}
				rest = rest[i+len(w):]
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error leaks a password: %q", msg)
			}
		})
	}
}

func TestLoadErrorsAreTyped(t *testing.T) {
	dir := writeDir(t, map[string]string{"10-source.yaml": minimal + "  serverid: 1\n"})
	_, err := LoadWith(dir, env(nil))
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 3 || filepath.Base(fe.File) != "10-source.yaml" {
		t.Fatalf("err = %#v, want a *FileError at 10-source.yaml:3", err)
	}

	dir = writeDir(t, map[string]string{"10-source.yaml": minimal + "  server_id: 0\n"})
	_, err = LoadWith(dir, env(nil))
	var fld *FieldError
	if !errors.As(err, &fld) || fld.Path != "source.server_id" || !strings.HasSuffix(fld.Pos, "10-source.yaml:3") {
		t.Fatalf("err = %#v, want a *FieldError for source.server_id", err)
	}
}

func TestRedacted(t *testing.T) {
	src := minimal + `  start: latest
admin:
  token: tok-123
sinks:
  cache:
    type: redis
    addr: r:6379
    username: app
    password: redis-pw
  search:
    type: es
    urls: [https://elastic:es-pw@es1:9200, https://es2:9200]
    password: es-pw2
  dest:
    type: mysql
    dsn: mysql://app:my-pw@db/dest
  hooks:
    type: http
    url: https://hooks.example.com/x
    headers:
      Authorization: Bearer hook-secret
`
	c, err := Parse("10-all.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"secret", "tok-123", "redis-pw", "es-pw", "my-pw", "hook-secret"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted output holds %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"mysql://u:REDACTED@db:3306/shop", "username: app", "https://es2:9200", "Authorization: REDACTED", "token: REDACTED", "start: latest"} {
		if !strings.Contains(string(out), kept) {
			t.Errorf("redacted output lacks %q:\n%s", kept, out)
		}
	}
	if c.Sinks["cache"].Password != "redis-pw" || c.Sinks["hooks"].Headers["Authorization"] != "Bearer hook-secret" || c.Sinks["search"].URLs[0] != "https://elastic:es-pw@es1:9200" {
		t.Error("Redacted changed the original config")
	}
}

func TestParseMatchesLoad(t *testing.T) {
	c, err := Parse("inline.yaml", []byte(minimal+"  serverid: 1\n"), env(nil))
	if err == nil || !strings.HasPrefix(err.Error(), "inline.yaml:3: ") {
		t.Fatalf("Parse error = %v, want one at inline.yaml:3", err)
	}
	if c != nil {
		t.Error("Parse returned a config with an error")
	}
}

func TestShippedConfDir(t *testing.T) {
	// The shipped conf.d must load with no MOONTIDE_* variable set: every
	// address has a local default matching dev/services.sh.
	c, err := LoadWith("../../conf.d", env(nil))
	if err != nil {
		t.Fatalf("loading the shipped conf.d: %v", err)
	}
	d, _ := c.Source.MySQLDSN()
	if d.Addr() != "127.0.0.1:13306" || d.Database != "moontide_demo" {
		t.Errorf("source = %s", d)
	}
	if !c.Kafka.Embedded() {
		t.Error("shipped config should run embedded by default")
	}
	for name, want := range map[string]string{"redis": SinkRedis, "search": SinkES, "dest": SinkMySQL} {
		if c.Sinks[name].Type != want {
			t.Errorf("sink %s type = %q, want %q", name, c.Sinks[name].Type, want)
		}
	}
	if got := c.Sinks["redis"].Addr; got != "127.0.0.1:16379" {
		t.Errorf("redis addr = %q", got)
	}
	if got := c.Sinks["search"].URL; got != "http://127.0.0.1:19200" {
		t.Errorf("es url = %q", got)
	}

	c, err = LoadWith("../../conf.d", env(map[string]string{
		"MOONTIDE_KAFKA_BROKERS": "k1:9092,k2:9092",
		"MOONTIDE_REDIS_ADDR":    "redis.internal:6379",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kafka.Brokers) != 2 || c.Sinks["redis"].Addr != "redis.internal:6379" {
		t.Errorf("environment not applied: brokers %q, redis %q", c.Kafka.Brokers, c.Sinks["redis"].Addr)
	}
}
