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
	cs := charsets{}
	if err := scanCharsets(ctx, db, cs, `SELECT co.ID, co.CHARACTER_SET_NAME, cs.MAXLEN
		FROM information_schema.COLLATIONS co JOIN information_schema.CHARACTER_SETS cs
		ON cs.CHARACTER_SET_NAME = co.CHARACTER_SET_NAME WHERE co.ID IS NOT NULL`); err != nil {
		return nil, fmt.Errorf("reading collations: %w", err)
	}
	// MariaDB 10.10+ lists a collation shared by several charsets
	// (uca1400_ai_ci) once in COLLATIONS, without an id; the id of each
	// charset's variant (utf8mb4_uca1400_ai_ci is 2304) is only here. Other
	// servers have no ID column in this table.
	_ = scanCharsets(ctx, db, cs, `SELECT ap.ID, ap.CHARACTER_SET_NAME, cs.MAXLEN
		FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY ap JOIN information_schema.CHARACTER_SETS cs
		ON cs.CHARACTER_SET_NAME = ap.CHARACTER_SET_NAME WHERE ap.ID IS NOT NULL`)
	return cs, nil
}

func scanCharsets(ctx context.Context, db *sql.DB, cs charsets, q string) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id uint64
		var c charset
		if err := rows.Scan(&id, &c.name, &c.maxLen); err != nil {
			return err
		}
		if c.name == "utf8" {
			c.name = "utf8mb3"
		}
		cs[id] = c
	}
	return rows.Err()
}
