package dispatch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/moontide/moontide/engine/event"
)

func TestFileDeadLettersKeepEventsAndErrors(t *testing.T) {
	f := &FileDeadLetters{Dir: t.TempDir()}
	tbl := event.NewTable("s", "t", []event.Column{{Name: "id", Type: "bigint unsigned"}}, []int{0})
	e := &event.Event{ID: "f.1:2:0", Action: event.Insert, Table: tbl, Key: "18446744073709551615",
		After: []event.Value{event.UintValue(18446744073709551615)}}
	if err := f.Put(context.Background(), "l", []*event.Event{e}, errors.New("sink said no")); err != nil {
		t.Fatal(err)
	}
	if err := f.PutRaw(context.Background(), "l", 3, 77, []byte{0xff, 0}, errors.New("undecodable")); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(f.Path("l"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var recs []DeadLetterRecord
	for sc := bufio.NewScanner(file); sc.Scan(); {
		var r DeadLetterRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	got, err := event.Decode(recs[0].Event)
	if err != nil || got.After[0].Uint() != 18446744073709551615 || recs[0].Error != "sink said no" {
		t.Errorf("first record: %+v, %v", recs[0], err)
	}
	if string(recs[1].Raw) != "\xff\x00" || recs[1].Offset != 77 || recs[1].Error != "undecodable" {
		t.Errorf("second record: %+v", recs[1])
	}
}
