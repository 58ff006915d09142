package config

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQLDSN is a MySQL or MariaDB address written as a URL,
// mysql://user:password@host:port[/database][?param=value].
// The URL form is what conf.d and the MOONTIDE_*_DSN variables carry; the
// methods turn it into what each client library wants.
type MySQLDSN struct {
	User     string
	Password string
	Host     string
	Port     int
	Database string
	// Params are passed to the driver as connection parameters.
	Params map[string]string
}

// ParseMySQLDSN parses a mysql:// URL. The port defaults to 3306 and the
// host to 127.0.0.1.
func ParseMySQLDSN(s string) (MySQLDSN, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse repeats the input, which holds the password.
		return MySQLDSN{}, fmt.Errorf("parsing mysql dsn %q: malformed URL", Redact(s))
	}
	if u.Scheme != "mysql" {
		return MySQLDSN{}, fmt.Errorf("parsing mysql dsn %q: scheme must be mysql://", Redact(s))
	}
	d := MySQLDSN{Host: u.Hostname(), Port: 3306, Params: map[string]string{}}
	if d.Host == "" {
		d.Host = "127.0.0.1"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return MySQLDSN{}, fmt.Errorf("parsing mysql dsn %q: bad port %q", Redact(s), p)
		}
		d.Port = n
	}
	if u.User != nil {
		d.User = u.User.Username()
		d.Password, _ = u.User.Password()
	}
	d.Database = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(d.Database, "/") {
		return MySQLDSN{}, fmt.Errorf("parsing mysql dsn %q: database name %q contains '/'", Redact(s), d.Database)
	}
	for k, v := range u.Query() {
		d.Params[k] = v[len(v)-1]
	}
	return d, nil
}

// Addr is host:port, as go-mysql's BinlogSyncer and client want it.
func (d MySQLDSN) Addr() string {
	return net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
}

// DriverDSN is the data source name for go-sql-driver/mysql. It always asks
// for UTC and for DATE/DATETIME as text, so values are never reinterpreted
// in the local zone.
func (d MySQLDSN) DriverDSN() string {
	c := mysql.NewConfig()
	c.User = d.User
	c.Passwd = d.Password
	c.Net = "tcp"
	c.Addr = d.Addr()
	c.DBName = d.Database
	c.Loc = time.UTC
	c.ParseTime = false
	c.InterpolateParams = false
	if len(d.Params) > 0 {
		c.Params = map[string]string{}
		keys := make([]string, 0, len(d.Params))
		for k := range d.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c.Params[k] = d.Params[k]
		}
	}
	return c.FormatDSN()
}

// String is the URL with the password redacted, safe for logs.
func (d MySQLDSN) String() string {
	u := url.URL{Scheme: "mysql", Host: d.Addr(), Path: "/" + d.Database}
	if d.User != "" {
		if d.Password != "" {
			u.User = url.UserPassword(d.User, "REDACTED")
		} else {
			u.User = url.User(d.User)
		}
	}
	q := url.Values{}
	for k, v := range d.Params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Redact replaces the password of a URL-shaped string with REDACTED. Strings
// that are not URLs with a password come back unchanged.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactMalformed(s)
	}
	if u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	u.User = url.UserPassword(u.User.Username(), "REDACTED")
	return u.String()
}

// redactMalformed hides what could be a password in a string url.Parse
// rejected, such as one with a bad %-escape in the password. Without a
// parse it cannot know where the user info ends, so it hides everything
// up to the last '@' after the scheme, erring towards hiding too much.
func redactMalformed(s string) string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	scheme := s[:len(s)-len(rest)]
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return s
	}
	return scheme + user + ":REDACTED" + rest[at:]
}
