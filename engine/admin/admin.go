// Package admin is moontide's HTTP control surface: /metrics for
// Prometheus, /healthz, /status (JSON), POST /reload and POST /sync. It
// binds to loopback by default; when a token is configured every request but
// /healthz must carry it as a bearer token.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Controller is what the admin endpoints act on: the running process.
type Controller interface {
	// Status returns a JSON-marshalable snapshot: positions, lag,
	// listeners, script generation, last errors.
	Status() any
	// Reload loads the scripts again and swaps them in when all are valid.
	// The error says why nothing changed.
	Reload(ctx context.Context) error
}

// Server serves the admin endpoints.
type Server struct {
	// Listen is host:port; port 0 picks a free port (see Addr).
	Listen string
	// Token, when set, is required as "Authorization: Bearer <token>".
	Token      string
	Controller Controller
	// Gatherer provides /metrics. The default is prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger

	ln  net.Listener
	srv *http.Server
}

// Start listens and serves in the background until Shutdown.
func (s *Server) Start() error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("admin listening on %s: %w", s.Listen, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("admin server stopped", "err", err)
		}
	}()
	s.Logger.Info("admin listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the address the server listens on, once started.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the server, waiting for requests in progress until ctx is
// done.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// Handler returns the admin routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	gatherer := s.Gatherer
	if gatherer == nil {
		gatherer = prometheus.DefaultGatherer
	}
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	mux.Handle("GET /status", s.auth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Controller.Status())
	})))
	mux.Handle("POST /reload", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Controller.Reload(r.Context()); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"result": "reloaded"})
	})))
	return mux
}

func (s *Server) auth(next http.Handler) http.Handler {
	if s.Token == "" {
		return next
	}
	want := []byte("Bearer " + s.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
