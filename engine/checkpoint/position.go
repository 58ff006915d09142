package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Position is a point in the source's binlog at a transaction boundary: the
// place to resume reading so that no transaction is skipped.
type Position struct {
	// File and Pos are the binlog coordinates just after a committed
	// transaction.
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	// GTIDSet is the set of transactions executed up to here, when the
	// server uses GTIDs; it is preferred over File and Pos on resume.
	GTIDSet string `json:"gtid_set,omitempty"`
	// Flavor is "mysql" or "mariadb", the syntax of GTIDSet.
	Flavor string `json:"flavor,omitempty"`
	// TS is the commit time of the transaction, in ms since the epoch.
	TS int64 `json:"ts,omitempty"`
	// ServerID is the source's server_id when capture read the position:
	// binlog coordinates mean something only on the server that wrote
	// them, and a resume by GTID set may land on another server.
	ServerID uint32 `json:"server_id,omitempty"`
	// Finished is what listeners have already handled past this position
	// (embedded mode), saved with it so that the two move together: a
	// restart skips that work instead of doing it twice. The embedded
	// transport writes and reads it; stores keep it as it is.
	Finished RawJSON `json:"finished,omitempty"`
}

// RawJSON is a JSON document kept as text, so that Position stays
// comparable with ==, and written into the position's JSON as is.
type RawJSON string

// MarshalJSON writes r itself, or null when it is empty.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	if !json.Valid([]byte(r)) {
		return nil, fmt.Errorf("finished: not JSON: %.40q", string(r))
	}
	return []byte(r), nil
}

// UnmarshalJSON keeps the document's text; null is empty.
func (r *RawJSON) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*r = ""
		return nil
	}
	*r = RawJSON(data)
	return nil
}

// IsZero reports whether p is the zero Position, i.e. no checkpoint.
func (p Position) IsZero() bool { return p.File == "" && p.GTIDSet == "" }

// String is p as FILE:POS, with the GTID set when there is one.
func (p Position) String() string {
	if p.GTIDSet != "" {
		return fmt.Sprintf("%s:%d (gtid %s)", p.File, p.Pos, p.GTIDSet)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Pos)
}

// ErrNotFound is returned by Store.Load when nothing was saved yet.
var ErrNotFound = errors.New("no checkpoint saved")

// Store keeps the last position that is safe to resume from.
//
// Save must be durable when it returns nil: after a crash, Load returns
// that position or a later one. Callers only ever Save a Position whose
// every earlier event was delivered (to Kafka, or to every listener), so
// resuming from it loses nothing.
type Store interface {
	// Load returns the saved position, or ErrNotFound.
	Load(ctx context.Context) (Position, error)
	// Save replaces the saved position.
	Save(ctx context.Context, p Position) error
	// Close releases the store's connections.
	Close() error
}
