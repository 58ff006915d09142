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

func TestFileStoreSavesAndLoads(t *testing.T) {
	s := NewFileStore(filepath.Join(t.TempDir(), "sub", "checkpoint.json"))
	exerciseStore(t, s)
	entries, _ := os.ReadDir(filepath.Dir(s.Path()))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only the checkpoint (no temporary files left)", len(entries))
	}
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
