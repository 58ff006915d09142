package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/moontide/moontide/engine/lua"
)

// clientOf returns the connection's client, acquiring it from the Env's
// shared pool on first use. go-redis clients do not dial when built, so
// this is cheap; the first command dials.
func (c *conn) clientOf() (goredis.UniversalClient, error) {
	if c.client != nil {
		return c.client, nil
	}
	cl, err := c.Env.Client(clientKey(*c.Config), func() (io.Closer, error) { return NewClient(*c.Config) })
	if err != nil {
		return nil, err
	}
	uc, ok := cl.(goredis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("shared client %T is not a redis client", cl)
	}
	c.client = uc
	return uc, nil
}

// clientKey names a client in the shared pool: the sink's name and a
// fingerprint of every setting that shapes the client, so that a reload
// that changes any of them (the password included, hashed) opens a new
// one while the old generation finishes with the old.
func clientKey(cfg lua.SinkConfig) string {
	h := sha256.New()
	for _, s := range []string{
		cfg.Mode, strings.Join(cfg.Endpoints, ","), cfg.MasterName, strconv.Itoa(cfg.DB),
		cfg.Username, cfg.Password, cfg.Timeout.String(),
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "redis:" + cfg.Name + ":" + hex.EncodeToString(h.Sum(nil)[:8])
}

// NewClient builds the go-redis client of a sink, by Mode: "standalone"
// (or empty) takes one endpoint, "sentinel" takes the sentinels' addresses
// and MasterName, "cluster" takes seed nodes and no DB. It does no I/O.
//
// Settings moontide chooses: Timeout (when set) bounds dialling, reading
// and writing; the context's deadline also applies (ContextTimeoutEnabled),
// so a read or flush never outlives its call; and the client never retries
// by itself (MaxRetries -1), because a retried pipeline may apply its first
// commands twice and the engine retries the whole batch anyway, visibly.
func NewClient(cfg lua.SinkConfig) (goredis.UniversalClient, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("redis sink %q has no endpoints", cfg.Name)
	}
	t := cfg.Timeout
	switch cfg.Mode {
	case "", "standalone":
		if len(cfg.Endpoints) != 1 {
			return nil, fmt.Errorf("redis sink %q: standalone mode takes one endpoint, got %d (use mode sentinel or cluster)", cfg.Name, len(cfg.Endpoints))
		}
		return goredis.NewClient(&goredis.Options{
			Addr: cfg.Endpoints[0], Username: cfg.Username, Password: cfg.Password, DB: cfg.DB,
			DialTimeout: t, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, MaxRetries: -1,
		}), nil
	case "sentinel":
		if cfg.MasterName == "" {
			return nil, fmt.Errorf("redis sink %q: sentinel mode needs master_name", cfg.Name)
		}
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: cfg.MasterName, SentinelAddrs: cfg.Endpoints,
			Username: cfg.Username, Password: cfg.Password, DB: cfg.DB,
			DialTimeout: t, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, MaxRetries: -1,
		}), nil
	case "cluster":
		if cfg.DB != 0 {
			return nil, fmt.Errorf("redis sink %q: a cluster has only database 0, got db %d", cfg.Name, cfg.DB)
		}
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: cfg.Endpoints, Username: cfg.Username, Password: cfg.Password,
			DialTimeout: t, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, MaxRetries: -1,
		}), nil
	}
	return nil, fmt.Errorf("redis sink %q: unknown mode %q (standalone, sentinel or cluster)", cfg.Name, cfg.Mode)
}
