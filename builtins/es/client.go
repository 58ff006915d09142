package es

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/moontide/moontide/engine/lua"
)

// client is one connection's go-elasticsearch client, shared by every state
// and generation that uses the same sink settings (lua.Env.Client).
type client struct {
	es        *elasticsearch.Client
	transport *http.Transport
}

// Close closes the client and its idle connections.
func (c *client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.es.Close(ctx)
	c.transport.CloseIdleConnections()
	return err
}

// clientKey names the shared client of a sink: the module, the sink and a
// fingerprint of its settings, so that a reload with changed settings gets a
// new client, and the password never appears in a key (keys show up in
// errors).
func clientKey(cfg *lua.SinkConfig) string {
	h := sha256.New()
	for _, e := range cfg.Endpoints {
		h.Write([]byte(e + "\x00"))
	}
	h.Write([]byte("\x01" + cfg.Username + "\x00" + cfg.Password + "\x00" + cfg.Timeout.String()))
	keys := make([]string, 0, len(cfg.Headers))
	for k := range cfg.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Write([]byte("\x02" + k + "\x00" + cfg.Headers[k]))
	}
	return "es:" + cfg.Name + ":" + hex.EncodeToString(h.Sum(nil)[:8])
}

// newClient builds the client of a sink. It does no I/O: go-elasticsearch
// connects on the first request.
func newClient(cfg *lua.SinkConfig) (*client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("es sink %q: no url", cfg.Name)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// One connection per worker stays open between batches; the default
	// of 2 idle connections per host would redial for every extra worker.
	tr.MaxIdleConnsPerHost = 32
	var hdr http.Header
	if len(cfg.Headers) > 0 {
		hdr = http.Header{}
		for k, v := range cfg.Headers {
			hdr.Set(k, v)
		}
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: cfg.Endpoints,
		Username:  cfg.Username,
		Password:  cfg.Password,
		Header:    hdr,
		Transport: productCompat{tr},
		// Flush retries itself, with backoff and per item; the client's
		// immediate retries of whole requests would only add load.
		DisableRetry: true,
		// The compatibility mode (also switched on by the environment
		// variable ELASTIC_CLIENT_APIVERSIONING) sends a media type that
		// Elasticsearch 7 and OpenSearch refuse; productCompat strips it.
		EnableCompatibilityMode: false,
	})
	if err != nil {
		return nil, fmt.Errorf("es sink %q: %w", cfg.Name, err)
	}
	return &client{es: es, transport: tr}, nil
}

// productCompat lets go-elasticsearch v8 talk to OpenSearch and to
// Elasticsearch before 7.14. The client refuses any 2xx response without
// "X-Elastic-Product: Elasticsearch" (its product check, which has no
// switch); those servers speak the same REST API for bulk, get and search
// but send no such header. Responses that carry a product header are left
// alone, so a server that says it is something else is still refused. It
// also replaces the v8 compatibility media type, which only Elasticsearch 8
// understands, with plain JSON.
type productCompat struct{ next http.RoundTripper }

const compatMedia = "compatible-with="

// RoundTrip implements http.RoundTripper.
func (p productCompat) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.Header.Get("Accept"), compatMedia) || strings.Contains(req.Header.Get("Content-Type"), compatMedia) {
		req = req.Clone(req.Context()) // a RoundTripper must not modify its request
		req.Header.Set("Accept", "application/json")
		if req.Header.Get("Content-Type") != "" {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	res, err := p.next.RoundTrip(req)
	if err == nil && res.Header.Get("X-Elastic-Product") == "" {
		res.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return res, err
}

// errRecording is what reads return in recording mode, where no sink may
// be reached.
var errRecording = errors.New("not available in recording mode (moontide test): reads reach the server")
