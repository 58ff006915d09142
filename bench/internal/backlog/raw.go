package backlog

import (
	"context"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/moontide/moontide/engine/checkpoint"
)

// RawDecode reads the backlog with a bare go-mysql BinlogSyncer, letting
// the library decode every row into its own []any rows, and counts the
// rows of the bench schema: the ceiling moontide is compared with. It is
// timed from before the sync starts until the XID event that reaches the
// backlog's end, and fails when it did not count exactly Rows rows.
func (bl Backlog) RawDecode(ctx context.Context) (Measure, error) {
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: serverID(), Flavor: mysql.MariaDBFlavor,
		Host: bl.DSN.Host, Port: uint16(bl.DSN.Port), User: bl.DSN.User, Password: bl.DSN.Password,
		Logger: Discard,
	})
	defer syncer.Close()
	sw := Start()
	file := bl.Start.File
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: bl.Start.Pos})
	if err != nil {
		return Measure{}, fmt.Errorf("starting the raw binlog sync: %w", err)
	}
	n := 0
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			return Measure{}, fmt.Errorf("reading the binlog raw: %w", err)
		}
		switch e := ev.Event.(type) {
		case *replication.RowsEvent:
			if string(e.Table.Schema) == bl.Schema {
				n += len(e.Rows)
			}
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.XIDEvent:
			if bl.Reached(checkpoint.Position{File: file, Pos: ev.Header.LogPos}) {
				m := sw.Measure(n, time.Now())
				if n != bl.Rows {
					return m, fmt.Errorf("raw read %d rows, want %d", n, bl.Rows)
				}
				return m, nil
			}
		}
	}
}
