package testenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/internal/testenv"
)

// These tests check that the servers dev/services.sh starts are what the
// rest of moontide's integration tests assume, each through the bare client
// library moontide uses. A failure here points at the environment, not at
// moontide's code.

func TestIntegrationBinlogRowsReachARawSyncer(t *testing.T) {
	dsn := testenv.SourceMySQL(t)
	db := testenv.Source(t)
	ctx := testenv.Context(t, time.Minute)

	file, pos := testenv.BinlogPosition(ctx, t, db)
	for name, want := range map[string]string{
		"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL",
	} {
		var got string
		if err := db.QueryRowContext(ctx, "SELECT @@"+name).Scan(&got); err != nil {
			t.Fatalf("reading @@%s: %v", name, err)
		}
		if got != want && !(got == "1" && want == "ON") {
			t.Errorf("@@%s = %s, want %s", name, got, want)
		}
	}

	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 100000 + rand.Uint32N(1<<30), // unique among the replicas tests start at once
		Flavor:   mysql.MariaDBFlavor,
		Host:     dsn.Host,
		Port:     uint16(dsn.Port),
		User:     dsn.User,
		Password: dsn.Password,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(syncer.Close)
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: pos})
	if err != nil {
		t.Fatalf("starting binlog sync at %s:%d: %v", file, pos, err)
	}

	schema := testenv.FreshDatabase(t, db)
	if _, err := db.ExecContext(ctx, "CREATE TABLE `"+schema+"`.`rows` (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL, note TEXT NULL)"); err != nil {
		t.Fatalf("creating table: %v", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO `"+schema+"`.`rows` VALUES (1, 'alpha', NULL), (2, 'beta', 'ü')"); err != nil {
		t.Fatalf("inserting rows: %v", err)
	}
	want := [][]any{{int32(1), "alpha", nil}, {int32(2), "beta", []byte("ü")}}

	var got [][]any
	var columns []string
	for len(got) < len(want) {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("reading binlog after %d of %d rows: %v", len(got), len(want), err)
		}
		rows, ok := ev.Event.(*replication.RowsEvent)
		if !ok || string(rows.Table.Schema) != schema || string(rows.Table.Table) != "rows" {
			continue
		}
		if ev.Header.EventType != replication.WRITE_ROWS_EVENTv1 && ev.Header.EventType != replication.WRITE_ROWS_EVENTv2 {
			t.Fatalf("got a %s for the table, want write rows", ev.Header.EventType)
		}
		columns = nil
		for _, c := range rows.Table.ColumnName { // present with binlog_row_metadata=FULL
			columns = append(columns, string(c))
		}
		got = append(got, rows.Rows...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows from the binlog = %#v, want %#v", got, want)
	}
	if strings.Join(columns, ",") != "id,name,note" {
		t.Errorf("column names in the table map = %q, want id,name,note (binlog_row_metadata=FULL)", columns)
	}
}

func TestIntegrationMinimalServerWritesMinimalMetadata(t *testing.T) {
	db := testenv.Minimal(t)
	ctx := testenv.Context(t, 30*time.Second)
	// Not binlog_format: a capture test sets it to STATEMENT for a moment.
	for name, want := range map[string]string{
		"log_bin": "1", "binlog_row_image": "FULL", "binlog_row_metadata": "MINIMAL",
	} {
		var got string
		if err := db.QueryRowContext(ctx, "SELECT @@"+name).Scan(&got); err != nil {
			t.Fatalf("reading @@%s: %v", name, err)
		}
		if got != want {
			t.Errorf("@@%s = %s, want %s", name, got, want)
		}
	}
	// The two sources are different servers, so a test never reads the
	// other's binlog by mistake.
	var id int
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id == 1 {
		t.Errorf("the minimal server has server_id 1, the main server's")
	}
}

func TestIntegrationRedisSetGet(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })

	key := testenv.UniqueName(t, "mt:")
	t.Cleanup(func() { rdb.Del(context.Background(), key) })
	if err := rdb.Set(ctx, key, "value \x00 with a NUL", time.Minute).Err(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	got, err := rdb.Get(ctx, key).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if got != "value \x00 with a NUL" {
		t.Errorf("GET %s = %q", key, got)
	}
	if _, err := rdb.Get(ctx, key+":missing").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET of a missing key: err = %v, want redis.Nil", err)
	}
}

func TestIntegrationKafkaProduceAndConsumeInAGroup(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, 90*time.Second)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}

	topic := testenv.UniqueName(t, "mt.")
	created, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}},
	})
	if err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	if err := created.Errors[topic]; err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if res, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}}); err != nil {
			t.Errorf("deleting topic %s: %v", topic, err)
		} else if err := res.Errors[topic]; err != nil {
			t.Errorf("deleting topic %s: %v", topic, err)
		}
	})

	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
	}
	t.Cleanup(func() { _ = w.Close() })
	sent := kafka.Message{Key: []byte("row-1"), Value: []byte(`{"id":1}`)}
	if err := w.WriteMessages(ctx, sent); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}

	group := testenv.UniqueName(t, "mt-group-")
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     brokers,
		GroupID:     group,
		Topic:       topic,
		StartOffset: kafka.FirstOffset,
		MaxWait:     100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = r.Close() })
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("fetching from %s in group %s: %v", topic, group, err)
	}
	if string(m.Key) != string(sent.Key) || string(m.Value) != string(sent.Value) {
		t.Errorf("fetched key=%q value=%q, want key=%q value=%q", m.Key, m.Value, sent.Key, sent.Value)
	}
	if err := r.CommitMessages(ctx, m); err != nil {
		t.Fatalf("committing offset %d: %v", m.Offset, err)
	}

	offsets, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatalf("fetching committed offsets of %s: %v", group, err)
	}
	if p := offsets.Topics[topic]; len(p) != 1 || p[0].Error != nil || p[0].CommittedOffset != m.Offset+1 {
		t.Errorf("committed offsets of %s = %+v, want offset %d", group, p, m.Offset+1)
	}
}

func TestIntegrationElasticsearchIndexAndGet(t *testing.T) {
	url := testenv.ElasticsearchURL(t)
	ctx := testenv.Context(t, time.Minute)
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{url},
		Transport: productHeader{http.DefaultTransport},
	})
	if err != nil {
		t.Fatalf("creating client for %s: %v", url, err)
	}

	index := testenv.UniqueName(t, "mt-")
	t.Cleanup(func() {
		res, err := es.Indices.Delete([]string{index})
		if err != nil {
			t.Errorf("deleting index %s: %v", index, err)
			return
		}
		res.Body.Close()
	})
	res, err := es.Index(index, strings.NewReader(`{"name":"alpha","price":"12.50"}`),
		es.Index.WithContext(ctx), es.Index.WithDocumentID("1"), es.Index.WithRefresh("true"))
	if err != nil {
		t.Fatalf("indexing into %s: %v", index, err)
	}
	body := readBody(t, res.Body)
	if res.IsError() {
		t.Fatalf("indexing into %s: %s %s", index, res.Status(), body)
	}

	res, err = es.Get(index, "1", es.Get.WithContext(ctx))
	if err != nil {
		t.Fatalf("getting %s/1: %v", index, err)
	}
	body = readBody(t, res.Body)
	if res.IsError() {
		t.Fatalf("getting %s/1: %s %s", index, res.Status(), body)
	}
	var doc struct {
		Found  bool            `json:"found"`
		Source json.RawMessage `json:"_source"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	if !doc.Found || string(doc.Source) != `{"name":"alpha","price":"12.50"}` {
		t.Errorf("got %s, want the document back", body)
	}
}

// productHeader lets go-elasticsearch v8 talk to OpenSearch. The client
// refuses any 2xx response without "X-Elastic-Product: Elasticsearch" (its
// product check, which has no switch); OpenSearch speaks the same REST API
// for what we use but does not send the header. Responses that carry a
// product header are left alone, so a real Elasticsearch is still checked.
type productHeader struct{ next http.RoundTripper }

func (p productHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := p.next.RoundTrip(req)
	if err == nil && res.Header.Get("X-Elastic-Product") == "" {
		res.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return res, err
}

func readBody(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return b.Bytes()
}
