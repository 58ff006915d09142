package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moontide/moontide/engine/pattern"
)

// Flavors of source server. They differ in GTID format and in a few binlog
// events, so capture must know which one it talks to.
const (
	FlavorMySQL   = "mysql"
	FlavorMariaDB = "mariadb"
)

// Source is the database whose binlog is captured.
type Source struct {
	// DSN is a mysql:// URL (see ParseMySQLDSN). The user needs
	// REPLICATION SLAVE, REPLICATION CLIENT and SELECT. Required.
	DSN string `yaml:"dsn"`
	// Flavor is mysql or mariadb. The default is mariadb.
	Flavor string `yaml:"flavor"`
	// ServerID is the replica id moontide announces to the server. It must
	// be unique among the server's replicas, or the server drops one of
	// the two connections. The default is 1001.
	ServerID uint32 `yaml:"server_id"`
	// Start says where to begin when there is no stored checkpoint, or
	// overrides it; see ParseStart for the forms. The default, "", means
	// the stored checkpoint if there is one, else latest.
	Start string `yaml:"start"`
	// Include lists schema.table patterns to capture; '*' matches any run
	// of characters within a part. Empty means every table.
	Include StringList `yaml:"include"`
	// Exclude lists schema.table patterns to drop even when included.
	Exclude StringList `yaml:"exclude"`
	// Heartbeat is how often the server sends a heartbeat when idle, which
	// lets capture notice a dead connection and keep lag metrics honest.
	// The default is 1s.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// Charset of the replication connection. The default is utf8mb4.
	Charset string `yaml:"charset"`
}

func defaultSource() Source {
	return Source{
		Flavor:    FlavorMariaDB,
		ServerID:  1001,
		Heartbeat: time.Second,
		Charset:   "utf8mb4",
	}
}

// MySQLDSN parses DSN; Validate has already checked it, so callers after
// Load only see an error if they changed the field themselves.
func (s Source) MySQLDSN() (MySQLDSN, error) { return ParseMySQLDSN(s.DSN) }

// Validate checks the section on its own.
func (s Source) Validate() error {
	var p problems
	if s.DSN == "" {
		p.add("dsn", "required (a mysql:// URL)")
	} else if _, err := ParseMySQLDSN(s.DSN); err != nil {
		p.add("dsn", "%v", err)
	}
	if s.Flavor != FlavorMySQL && s.Flavor != FlavorMariaDB {
		p.add("flavor", "must be mysql or mariadb, not %q", s.Flavor)
	}
	if s.ServerID == 0 {
		p.add("server_id", "must not be 0 (the server refuses replicas with id 0)")
	}
	if _, err := ParseStart(s.Flavor, s.Start); err != nil {
		p.add("start", "%v", err)
	}
	for i, pat := range s.Include {
		if _, err := pattern.Parse(pat); err != nil {
			p.add(fmt.Sprintf("include[%d]", i), "%v", err)
		}
	}
	for i, pat := range s.Exclude {
		if _, err := pattern.Parse(pat); err != nil {
			p.add(fmt.Sprintf("exclude[%d]", i), "%v", err)
		}
	}
	// MySQL accepts heartbeat periods from 1ms to 4294967s.
	if s.Heartbeat < time.Millisecond || s.Heartbeat > 4294967*time.Second {
		p.add("heartbeat", "must be between 1ms and 4294967s, not %s", s.Heartbeat)
	}
	if s.Charset == "" {
		p.add("charset", "must not be empty")
	}
	return p.err()
}

// StartKind says which form a source start position takes.
type StartKind int

// The start forms. StartDefault resumes from the stored checkpoint and
// falls back to StartLatest when none is stored.
const (
	StartDefault StartKind = iota
	StartCheckpoint
	StartEarliest
	StartLatest
	StartFilePos
	StartGTID
)

// Start is a parsed source.start.
type Start struct {
	Kind StartKind
	File string // StartFilePos
	Pos  uint32 // StartFilePos
	GTID string // StartGTID, as written
}

var (
	uuidRe        = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
	mysqlRangeRe  = regexp.MustCompile(`^[0-9]+(-[0-9]+)?$`)
	mysqlTagRe    = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,31}$`) // MySQL 8.3+ tagged GTIDs
	mariadbGTIDRe = regexp.MustCompile(`^[0-9]+-[0-9]+-[0-9]+$`)
)

// ParseStart reads a start position: "" (stored checkpoint, else latest),
// "checkpoint" (stored checkpoint, and fail if there is none), "earliest"
// (oldest binlog the server still has), "latest" (the current end),
// "FILE:POS" (mysql-bin.000042:4), or a GTID set in the flavor's format
// (MariaDB 0-1-100,1-2-7; MySQL 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5).
// The syntax is checked here; whether the server still has the position is
// for capture to find out.
func ParseStart(flavor, s string) (Start, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return Start{Kind: StartDefault}, nil
	case "checkpoint":
		return Start{Kind: StartCheckpoint}, nil
	case "earliest":
		return Start{Kind: StartEarliest}, nil
	case "latest":
		return Start{Kind: StartLatest}, nil
	}
	if file, pos, ok := strings.Cut(s, ":"); ok && !strings.ContainsAny(s, ",") && !uuidRe.MatchString(file) {
		n, err := strconv.ParseUint(pos, 10, 32)
		if err != nil || file == "" {
			return Start{}, fmt.Errorf("%q is not FILE:POS (e.g. mysql-bin.000042:4)", s)
		}
		if n < 4 {
			return Start{}, fmt.Errorf("%q: binlog positions start at 4", s)
		}
		return Start{Kind: StartFilePos, File: file, Pos: uint32(n)}, nil
	}
	if err := checkGTIDSet(flavor, s); err != nil {
		return Start{}, err
	}
	return Start{Kind: StartGTID, GTID: s}, nil
}

func checkGTIDSet(flavor, s string) error {
	bad := func() error {
		if flavor == FlavorMySQL {
			return fmt.Errorf("%q is none of checkpoint, earliest, latest, FILE:POS or a MySQL GTID set (uuid:1-5,...)", s)
		}
		return fmt.Errorf("%q is none of checkpoint, earliest, latest, FILE:POS or a MariaDB GTID list (domain-server-seq,...)", s)
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if flavor != FlavorMySQL {
			if !mariadbGTIDRe.MatchString(part) {
				return bad()
			}
			continue
		}
		fields := strings.Split(part, ":")
		if len(fields) < 2 || !uuidRe.MatchString(fields[0]) {
			return bad()
		}
		for _, r := range fields[1:] {
			if !mysqlRangeRe.MatchString(r) && !mysqlTagRe.MatchString(r) {
				return bad()
			}
		}
	}
	return nil
}
