package mysql

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"
)

// parseDSN turns a sink's mysql://user:password@host:port/db?param=value
// URL into the driver's configuration. engine/config parses the same form,
// but builtins reach the engine only through engine/lua, so this is a small
// copy of its rules: port 3306 and host 127.0.0.1 by default, params passed
// to the driver (its own options such as tls or charset, or session
// variables). Whatever the URL says, values are never reinterpreted:
// Loc=UTC, parseTime=false (DATE/DATETIME/TIMESTAMP stay text), and
// interpolateParams=false (arguments always travel separately from the SQL
// text, as placeholders of server-side prepared statements). Sessions use
// time_zone '+00:00' unless the URL sets one: events carry TIMESTAMPs in
// UTC, and upsert writes them as such.
func parseDSN(s string, timeout time.Duration) (*driver.Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse repeats the input, which holds the password.
		return nil, fmt.Errorf("parsing mysql dsn: malformed URL")
	}
	if u.Scheme != "mysql" {
		return nil, fmt.Errorf("parsing mysql dsn: scheme must be mysql://")
	}
	host, port := u.Hostname(), 3306
	if host == "" {
		host = "127.0.0.1"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("parsing mysql dsn: bad port %q", p)
		}
		port = n
	}
	db := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(db, "/") {
		return nil, fmt.Errorf("parsing mysql dsn: database name %q contains '/'", db)
	}
	c := driver.NewConfig()
	c.Net = "tcp"
	c.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	c.DBName = db
	if u.User != nil {
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
	}
	if q := u.Query(); len(q) > 0 {
		c.Params = map[string]string{}
		for k, v := range q {
			c.Params[k] = v[len(v)-1]
		}
	}
	// A round trip through the driver's own DSN text lets it interpret its
	// known parameters (tls, charset, timeout, ...) exactly as it documents
	// them; the rest stay session variables.
	parsed, err := driver.ParseDSN(c.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("parsing mysql dsn: %s", redactErr(err, c.Passwd))
	}
	c = parsed
	if _, ok := c.Params["time_zone"]; !ok {
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params["time_zone"] = "'+00:00'"
	}
	c.Loc = time.UTC
	c.ParseTime = false
	c.InterpolateParams = false
	if timeout > 0 && c.Timeout == 0 {
		c.Timeout = timeout // dialing; statements are bounded by contexts
	}
	return c, nil
}

// redactErr keeps a password out of a driver error that might quote the DSN.
func redactErr(err error, password string) string {
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "REDACTED")
	}
	return msg
}
