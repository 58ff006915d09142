package config

import (
	"regexp"
	"sort"
	"strings"
)

// Config is the whole configuration after merging every conf.d file,
// applying defaults and validating.
type Config struct {
	Source     Source     `yaml:"source"`
	Kafka      Kafka      `yaml:"kafka"`
	Checkpoint Checkpoint `yaml:"checkpoint"`
	Sinks      Sinks      `yaml:"sinks"`
	Scripts    Scripts    `yaml:"scripts"`
	Admin      Admin      `yaml:"admin"`
	Log        Log        `yaml:"log"`

	// Files are the files Load read, in merge order.
	Files []string `yaml:"-"`

	// origins maps a dotted key to the file:line that last set it.
	origins map[string]string
}

// Default returns a Config holding every default and nothing else. It does
// not validate: source.dsn has no default.
func Default() Config {
	return Config{
		Source:     defaultSource(),
		Kafka:      defaultKafka(),
		Checkpoint: defaultCheckpoint(),
		Sinks:      Sinks{},
		Scripts:    defaultScripts(),
		Admin:      defaultAdmin(),
		Log:        defaultLog(),
	}
}

// setDefaults fills what only has a default once the rest is known: sink
// defaults depend on the sink's type, which a map entry gets only from the
// files.
func (c *Config) setDefaults() {
	if c.Sinks == nil {
		c.Sinks = Sinks{}
	}
	for name, s := range c.Sinks {
		s.setDefaults()
		c.Sinks[name] = s
	}
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,63}$`)

// Validate checks every section and the references between them. The
// error is a Problems listing every failure, each a *FieldError; after
// Load, each also carries the file and line that set the key.
func (c *Config) Validate() error {
	var p problems
	p.nest("source", c.Source.Validate())
	p.nest("kafka", c.Kafka.Validate())
	p.nest("checkpoint", c.Checkpoint.Validate())
	p.nest("sinks", c.Sinks.Validate())
	p.nest("scripts", c.Scripts.Validate())
	p.nest("admin", c.Admin.Validate())
	p.nest("log", c.Log.Validate())

	if st := c.Checkpoint.Store; st == StoreRedis || st == StoreMySQL {
		if name := c.Checkpoint.Sink; name != "" {
			if s, ok := c.Sinks[name]; !ok {
				p.add("checkpoint.sink", "no sink named %q (known: %s)", name, strings.Join(c.Sinks.Names(), ", "))
			} else if s.Type != st {
				p.add("checkpoint.sink", "sink %q is %s, the %s store needs a %s sink", name, s.Type, st, st)
			}
		} else if _, ok := c.Sinks.Default(st); !ok {
			p.add("checkpoint.sink", "the %s store needs a %s sink: name one here or mark one default", st, st)
		}
	} else if c.Checkpoint.Sink != "" {
		p.add("checkpoint.sink", "applies only to the redis and mysql stores")
	}

	if len(p.list) == 0 {
		return nil
	}
	for _, e := range p.list {
		if fe, ok := e.(*FieldError); ok && fe.Pos == "" {
			fe.Pos = c.origin(fe.Path)
		}
	}
	return p.list
}

// CheckpointSink returns the name of the sink the checkpoint store writes
// to, resolving the default; "" for the file store.
func (c *Config) CheckpointSink() string {
	if c.Checkpoint.Store == StoreFile {
		return ""
	}
	if c.Checkpoint.Sink != "" {
		return c.Checkpoint.Sink
	}
	name, _ := c.Sinks.Default(c.Checkpoint.Store)
	return name
}

// origin finds where path, or the nearest key enclosing it, was set.
func (c *Config) origin(path string) string {
	for p := path; p != ""; {
		if o, ok := c.origins[p]; ok {
			return o
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return ""
}

// RedactedValue is the placeholder that replaces secrets.
const RedactedValue = "REDACTED"

// Redacted returns a copy safe to print or log: passwords, tokens, header
// values and URL passwords are replaced by REDACTED. Empty secrets stay
// empty so the output still shows whether one is set.
func (c *Config) Redacted() *Config {
	r := *c
	r.origins = nil
	r.Files = append([]string(nil), c.Files...)
	r.Source.DSN = Redact(c.Source.DSN)
	r.Kafka.Brokers = redactList(c.Kafka.Brokers)
	r.Admin.Token = redactSecret(c.Admin.Token)
	r.Sinks = make(Sinks, len(c.Sinks))
	for name, s := range c.Sinks {
		s.DSN = Redact(s.DSN)
		s.URL = Redact(s.URL)
		s.URLs = redactList(s.URLs)
		s.Addrs = append(StringList(nil), s.Addrs...)
		s.Password = redactSecret(s.Password)
		if s.Headers != nil {
			h := make(map[string]string, len(s.Headers))
			for k, v := range s.Headers {
				h[k] = redactSecret(v)
			}
			s.Headers = h
		}
		r.Sinks[name] = s
	}
	r.Source.Include = append(StringList(nil), c.Source.Include...)
	r.Source.Exclude = append(StringList(nil), c.Source.Exclude...)
	return &r
}

func redactSecret(s string) string {
	if s == "" {
		return ""
	}
	return RedactedValue
}

func redactList(l StringList) StringList {
	if l == nil {
		return nil
	}
	out := make(StringList, len(l))
	for i, v := range l {
		out[i] = Redact(v)
	}
	return out
}

// sortedKeys is for deterministic iteration in messages.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
