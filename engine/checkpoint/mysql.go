package checkpoint

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	// OpenMySQLStore opens databases through go-sql-driver/mysql.
	"github.com/go-sql-driver/mysql"
)

// MySQLStore keeps positions in a table, one row per name, so several
// captures can share a database:
//
//	CREATE TABLE moontide_checkpoint (
//	  name VARCHAR(191) PRIMARY KEY,
//	  position TEXT NOT NULL,      -- the Position as JSON ('' until the first Save)
//	  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
//	  schema_history LONGTEXT NULL -- capture's schema history, when it keeps one
//	)
//
// Save is one upsert in autocommit, durable as InnoDB makes its commits. A
// table made before schema_history existed gets the column on the first
// SaveSchemaHistory.
type MySQLStore struct {
	db    *sql.DB
	table string
	name  string
	owned bool
}

// DefaultMySQLTable is the table MySQLStore uses unless told otherwise.
const DefaultMySQLTable = "moontide_checkpoint"

// NewMySQLStore uses db (which it does not close), creating table if it
// does not exist. An empty table means DefaultMySQLTable; it may be
// qualified as db.table.
func NewMySQLStore(ctx context.Context, db *sql.DB, table, name string) (*MySQLStore, error) {
	if table == "" {
		table = DefaultMySQLTable
	}
	s := &MySQLStore{db: db, table: quoteQualified(table), name: name}
	_, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+s.table+` (
		name VARCHAR(191) NOT NULL PRIMARY KEY,
		position TEXT NOT NULL,
		updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
		schema_history LONGTEXT NULL
	) DEFAULT CHARSET utf8mb4`)
	if err != nil {
		return nil, fmt.Errorf("creating checkpoint table %s: %w", s.table, err)
	}
	return s, nil
}

// OpenMySQLStore opens driverDSN (a go-sql-driver/mysql DSN) and closes it
// on Close.
func OpenMySQLStore(ctx context.Context, driverDSN, table, name string) (*MySQLStore, error) {
	db, err := sql.Open("mysql", driverDSN)
	if err != nil {
		return nil, fmt.Errorf("opening checkpoint database: %w", err)
	}
	s, err := NewMySQLStore(ctx, db, table, name)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Load reads the saved position.
func (s *MySQLStore) Load(ctx context.Context) (Position, error) {
	var data string
	err := s.db.QueryRowContext(ctx, "SELECT position FROM "+s.table+" WHERE name = ?", s.name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return Position{}, ErrNotFound
	}
	if err != nil {
		return Position{}, fmt.Errorf("loading checkpoint %q from %s: %w", s.name, s.table, err)
	}
	if data == "" {
		return Position{}, ErrNotFound // only a schema history was saved yet
	}
	p, err := decodePosition([]byte(data))
	if err != nil {
		return Position{}, fmt.Errorf("loading checkpoint %q from %s: %w", s.name, s.table, err)
	}
	return p, nil
}

// Save replaces the saved position.
func (s *MySQLStore) Save(ctx context.Context, p Position) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	_, err = s.db.ExecContext(ctx, "INSERT INTO "+s.table+" (name, position) VALUES (?, ?) ON DUPLICATE KEY UPDATE position = VALUES(position)", s.name, string(data))
	if err != nil {
		return fmt.Errorf("saving checkpoint %q to %s: %w", s.name, s.table, err)
	}
	return nil
}

// LoadSchemaHistory reads the saved schema history, or ErrNotFound.
func (s *MySQLStore) LoadSchemaHistory(ctx context.Context) ([]byte, error) {
	var data sql.NullString
	err := s.db.QueryRowContext(ctx, "SELECT schema_history FROM "+s.table+" WHERE name = ?", s.name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) || isUnknownColumn(err) || (err == nil && !data.Valid) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("loading the schema history %q from %s: %w", s.name, s.table, err)
	}
	return []byte(data.String), nil
}

// SaveSchemaHistory replaces the saved schema history, adding its column to
// a table made by an older version first.
func (s *MySQLStore) SaveSchemaHistory(ctx context.Context, data []byte) error {
	q := "INSERT INTO " + s.table + " (name, position, schema_history) VALUES (?, '', ?) ON DUPLICATE KEY UPDATE schema_history = VALUES(schema_history)"
	_, err := s.db.ExecContext(ctx, q, s.name, string(data))
	if isUnknownColumn(err) {
		if _, aerr := s.db.ExecContext(ctx, "ALTER TABLE "+s.table+" ADD COLUMN schema_history LONGTEXT NULL"); aerr != nil && !isDuplicateColumn(aerr) {
			return fmt.Errorf("adding the schema_history column to %s: %w", s.table, aerr)
		}
		_, err = s.db.ExecContext(ctx, q, s.name, string(data))
	}
	if err != nil {
		return fmt.Errorf("saving the schema history %q to %s: %w", s.name, s.table, err)
	}
	return nil
}

func isUnknownColumn(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1054 // ER_BAD_FIELD_ERROR
}

func isDuplicateColumn(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1060 // ER_DUP_FIELDNAME
}

// Close closes the database if the store opened it.
func (s *MySQLStore) Close() error {
	if s.owned {
		return s.db.Close()
	}
	return nil
}

// quoteQualified quotes db.table or table as identifiers.
func quoteQualified(name string) string {
	parts := strings.SplitN(name, ".", 2)
	for i, p := range parts {
		parts[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
	}
	return strings.Join(parts, ".")
}
