package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps the position as JSON under one key. Redis makes a SET
// durable as far as its own persistence settings do (appendfsync); a
// store that must survive a Redis crash needs AOF with fsync.
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

// Close closes the client if the store opened it.
func (s *RedisStore) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}
