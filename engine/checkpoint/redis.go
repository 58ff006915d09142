package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps the position as JSON under one key, and capture's schema
// history, when it keeps one, under the key with ":schema" appended. Redis
// makes a SET durable as far as its own persistence settings do
// (appendfsync); a store that must survive a Redis crash needs AOF with
// fsync.
type RedisStore struct {
	client redis.UniversalClient
	key    string
	owned  bool
}

// NewRedisStore uses client (which it does not close) and key.
func NewRedisStore(client redis.UniversalClient, key string) *RedisStore {
	return &RedisStore{client: client, key: key}
}

// OpenRedisStore connects to addr and closes the client on Close.
func OpenRedisStore(opts *redis.UniversalOptions, key string) *RedisStore {
	return &RedisStore{client: redis.NewUniversalClient(opts), key: key, owned: true}
}

// Load reads the saved position.
func (s *RedisStore) Load(ctx context.Context) (Position, error) {
	data, err := s.client.Get(ctx, s.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Position{}, ErrNotFound
	}
	if err != nil {
		return Position{}, fmt.Errorf("loading checkpoint from redis key %s: %w", s.key, err)
	}
	p, err := decodePosition(data)
	if err != nil {
		return Position{}, fmt.Errorf("loading checkpoint from redis key %s: %w", s.key, err)
	}
	return p, nil
}

// Save replaces the saved position.
func (s *RedisStore) Save(ctx context.Context, p Position) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	if err := s.client.Set(ctx, s.key, data, 0).Err(); err != nil {
		return fmt.Errorf("saving checkpoint to redis key %s: %w", s.key, err)
	}
	return nil
}

// schemaKey is the key of the schema history.
func (s *RedisStore) schemaKey() string { return s.key + ":schema" }

// LoadSchemaHistory reads the saved schema history, or ErrNotFound.
func (s *RedisStore) LoadSchemaHistory(ctx context.Context) ([]byte, error) {
	data, err := s.client.Get(ctx, s.schemaKey()).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("loading the schema history from redis key %s: %w", s.schemaKey(), err)
	}
	return data, nil
}

// SaveSchemaHistory replaces the saved schema history.
func (s *RedisStore) SaveSchemaHistory(ctx context.Context, data []byte) error {
	if err := s.client.Set(ctx, s.schemaKey(), data, 0).Err(); err != nil {
		return fmt.Errorf("saving the schema history to redis key %s: %w", s.schemaKey(), err)
	}
	return nil
}

// Close closes the client if the store opened it.
func (s *RedisStore) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}
