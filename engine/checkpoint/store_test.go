package checkpoint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/moontide/moontide/internal/testenv"
)

// exerciseStore checks the Store contract on any implementation.
func exerciseStore(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load on an empty store: got %v, want ErrNotFound", err)
	}
	for _, p := range []Position{
		{File: "mariadb-bin.000001", Pos: 4, Flavor: "mariadb"},
		{File: "mariadb-bin.000002", Pos: 123456, GTIDSet: "0-1-100,1-2-7", Flavor: "mariadb", TS: 1700000000123},
		{File: "mysql-bin.000009", Pos: 4294967295, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", Flavor: "mysql"},
		{File: "mariadb-bin.000004", Pos: 77, Flavor: "mariadb", ServerID: 4294967295,
			Finished: `{"file":"mariadb-bin.000004","pos":77,"listeners":{"cache":{"layout":"workers=2 subscribe=shop.*","marks":{"1":{"file":"mariadb-bin.000004","pos":90,"order":3}}}}}`},
	} {
		if err := s.Save(ctx, p); err != nil {
			t.Fatalf("Save(%v): %v", p, err)
		}
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatalf("Load after Save(%v): %v", p, err)
		}
		if got != p {
			t.Fatalf("Load = %+v, want %+v", got, p)
		}
	}
}

// schemaHistoryStore is what capture asks of a store that keeps its schema
// history.
type schemaHistoryStore interface {
	Store
	LoadSchemaHistory(ctx context.Context) ([]byte, error)
	SaveSchemaHistory(ctx context.Context, data []byte) error
}

// exerciseSchemaHistory checks, on an empty store, that the schema history
// is saved and loaded whole, apart from the position: saving a history
// first leaves no position, and saving a position keeps the history.
func exerciseSchemaHistory(t *testing.T, s schemaHistoryStore) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.LoadSchemaHistory(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LoadSchemaHistory on an empty store: got %v, want ErrNotFound", err)
	}
	big := []byte(`{"format":1,"tables":"` + strings.Repeat("é", 100_000) + `"}`) // beyond a TEXT column
	for _, h := range [][]byte{[]byte(`{"format":1}`), big} {
		if err := s.SaveSchemaHistory(ctx, h); err != nil {
			t.Fatalf("SaveSchemaHistory: %v", err)
		}
		got, err := s.LoadSchemaHistory(ctx)
		if err != nil || string(got) != string(h) {
			t.Fatalf("LoadSchemaHistory = %.40q..., %v; want what was saved (%d bytes)", got, err, len(h))
		}
	}
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load after saving only a schema history: got %v, want ErrNotFound", err)
	}
	p := Position{File: "mariadb-bin.000003", Pos: 77, Flavor: "mariadb"}
	if err := s.Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx); err != nil || got != p {
		t.Fatalf("Load = %v, %v; want %v", got, err, p)
	}
	if got, err := s.LoadSchemaHistory(ctx); err != nil || string(got) != string(big) {
		t.Fatalf("the schema history after a Save: %d bytes, %v", len(got), err)
	}
}

func TestFileStoreSavesAndLoads(t *testing.T) {
	s := NewFileStore(filepath.Join(t.TempDir(), "sub", "checkpoint.json"))
	exerciseStore(t, s)
	entries, _ := os.ReadDir(filepath.Dir(s.Path()))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only the checkpoint (no temporary files left)", len(entries))
	}
}

func TestFileStoreKeepsTheSchemaHistoryNextToTheCheckpoint(t *testing.T) {
	s := NewFileStore(filepath.Join(t.TempDir(), "checkpoint.json"))
	exerciseSchemaHistory(t, s)
	if want := filepath.Join(filepath.Dir(s.Path()), "checkpoint.schema.json"); s.SchemaHistoryPath() != want {
		t.Errorf("SchemaHistoryPath %s, want %s", s.SchemaHistoryPath(), want)
	}
	entries, _ := os.ReadDir(filepath.Dir(s.Path()))
	if len(entries) != 2 {
		t.Errorf("the directory holds %d entries, want the checkpoint and the schema history", len(entries))
	}
}

func TestMemoryKeepsTheSchemaHistory(t *testing.T) {
	exerciseSchemaHistory(t, &Memory{})
}

func TestFileStoreRejectsDamagedFiles(t *testing.T) {
	for name, content := range map[string]string{
		"truncated JSON":     `{"file":"mariadb-bin.000001","po`,
		"an unknown field":   `{"file":"mariadb-bin.000001","pos":4,"offset":1}`,
		"no position":        `{}`,
		"a position below 4": `{"file":"mariadb-bin.000001","pos":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cp.json")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := NewFileStore(path).Load(context.Background())
			if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s", err, path)
			}
		})
	}
}

func TestFileStoreKeepsTheOldPositionWhenTheDirectoryIsGone(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	s := NewFileStore(filepath.Join(dir, "cp.json"))
	p := Position{File: "f.000001", Pos: 10}
	if err := s.Save(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if err := s.Save(context.Background(), Position{File: "f.000001", Pos: 20}); err == nil {
		t.Fatal("Save into a read-only directory succeeded")
	}
	if got, err := s.Load(context.Background()); err != nil || got != p {
		t.Fatalf("Load = %v, %v; want the old %v", got, err, p)
	}
}

func TestIntegrationRedisStore(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	client := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = client.Close() })
	key := testenv.UniqueName(t, "mt:cp:")
	t.Cleanup(func() { client.Del(context.Background(), key) })
	exerciseStore(t, NewRedisStore(client, key))
	hkey := testenv.UniqueName(t, "mt:cp:")
	t.Cleanup(func() { client.Del(context.Background(), hkey, hkey+":schema") })
	exerciseSchemaHistory(t, NewRedisStore(client, hkey))
	if err := client.Set(ctx, key, "not json", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRedisStore(client, key).Load(ctx); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("loading garbage: got %v, want an error", err)
	}
}

func TestIntegrationMySQLStore(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	db := testenv.Dest(t)
	schema := testenv.FreshDatabase(t, db)
	s, err := NewMySQLStore(ctx, db, schema+".checkpoints", "capture-a")
	if err != nil {
		t.Fatal(err)
	}
	exerciseStore(t, s)
	// A second name in the same table is independent.
	other, err := NewMySQLStore(ctx, db, schema+".checkpoints", "capture-b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another name: got %v, want ErrNotFound", err)
	}
	exerciseSchemaHistory(t, other)
}

func TestIntegrationMySQLStoreAddsTheSchemaHistoryColumnToAnOldTable(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	db := testenv.Dest(t)
	schema := testenv.FreshDatabase(t, db)
	// The table as versions without a schema history made it.
	if _, err := db.ExecContext(ctx, "CREATE TABLE `"+schema+"`.cp (name VARCHAR(191) NOT NULL PRIMARY KEY, position TEXT NOT NULL, "+
		"updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)) DEFAULT CHARSET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	s, err := NewMySQLStore(ctx, db, schema+".cp", "capture")
	if err != nil {
		t.Fatal(err)
	}
	exerciseSchemaHistory(t, s)
}

func TestMemoryKeepsTheLastPositionAndOptionallyEvery(t *testing.T) {
	ctx := context.Background()
	var m Memory
	if _, err := m.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty store: %v, want ErrNotFound", err)
	}
	p1, p2 := Position{File: "f.000001", Pos: 4}, Position{File: "f.000001", Pos: 9}
	_ = m.Save(ctx, p1)
	_ = m.Save(ctx, p2)
	if got, err := m.Load(ctx); err != nil || got != p2 || m.Last() != p2 {
		t.Errorf("Load %v, %v; Last %v; want %v", got, err, m.Last(), p2)
	}
	if m.Saves() != nil {
		t.Errorf("without History, Saves is %v", m.Saves())
	}
	h := Memory{History: true}
	_ = h.Save(ctx, p1)
	_ = h.Save(ctx, p2)
	if got := h.Saves(); len(got) != 2 || got[0] != p1 || got[1] != p2 {
		t.Errorf("Saves %v, want [%v %v]", got, p1, p2)
	}
}

func TestPositionRefusesFinishedThatIsNotJSON(t *testing.T) {
	s := NewFileStore(filepath.Join(t.TempDir(), "checkpoint.json"))
	err := s.Save(context.Background(), Position{File: "b.000001", Pos: 4, Finished: `{"cache":`})
	if err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("Save = %v, want an error saying finished is not JSON", err)
	}
}
