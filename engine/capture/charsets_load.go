package capture

import (
	"context"
	"database/sql"
	"fmt"
)

// loadCharsets reads the server's collations, so that collation ids the
// built-in list does not know (MariaDB 11's uca1400 family, for one) still
// resolve to a charset.
func loadCharsets(ctx context.Context, db *sql.DB) (charsets, error) {
	rows, err := db.QueryContext(ctx, `SELECT co.ID, co.CHARACTER_SET_NAME, cs.MAXLEN
		FROM information_schema.COLLATIONS co JOIN information_schema.CHARACTER_SETS cs
		ON cs.CHARACTER_SET_NAME = co.CHARACTER_SET_NAME WHERE co.ID IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("reading collations: %w", err)
	}
	defer rows.Close()
	cs := charsets{}
	for rows.Next() {
		var id uint64
		var c charset
		if err := rows.Scan(&id, &c.name, &c.maxLen); err != nil {
			return nil, fmt.Errorf("reading collations: %w", err)
		}
		if c.name == "utf8" {
			c.name = "utf8mb3"
		}
		cs[id] = c
	}
	return cs, rows.Err()
}
