package capture

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"
)

// TestMySQLGTIDsAreTrackedWithoutTheDumpsSet commits MySQL transactions
// as a dump by file and position delivers them, with no GTID set on the
// XID: the checkpoint's set must still grow by each transaction.
func TestMySQLGTIDsAreTrackedWithoutTheDumpsSet(t *testing.T) {
	const sid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	u := uuid.MustParse(sid)
	start, err := mysql.ParseGTIDSet(mysql.MySQLFlavor, sid+":1-5")
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s := newStream(&Capturer{opts: Options{Flavor: mysql.MySQLFlavor}}, charsets{}, rec, startPos{file: "binlog.000001", pos: 4})
	s.ctx, s.file, s.gtid = context.Background(), "binlog.000001", start
	for i, gno := range []int64{6, 7, 0 /* anonymous */, 9} {
		pos := uint32(100 * (i + 1))
		s.beginMySQL(&replication.EventHeader{LogPos: pos, EventSize: 10}, &replication.GTIDEvent{SID: u[:], GNO: gno})
		if want := fmt.Sprintf("%s:%d", sid, gno); gno != 0 && s.txID != want {
			t.Errorf("transaction id %q, want %q", s.txID, want)
		}
		if err := s.commit(context.Background(), &replication.EventHeader{LogPos: pos + 50}, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.beginMySQL(&replication.EventHeader{LogPos: 900, EventSize: 10}, &replication.GTIDEvent{SID: u[:], GNO: 10, Tag: mysql.NewTag("blue")})
	if want := sid + ":blue:10"; s.txID != want {
		t.Errorf("tagged transaction id %q, want %q", s.txID, want)
	}
	want := []string{sid + ":1-6", sid + ":1-7", sid + ":1-7", sid + ":1-7:9"}
	if len(rec.commits) != len(want) {
		t.Fatalf("%d commits, want %d", len(rec.commits), len(want))
	}
	for i, p := range rec.commits {
		if p.GTIDSet != want[i] {
			t.Errorf("commit %d: GTID set %q, want %q", i, p.GTIDSet, want[i])
		}
	}
}
