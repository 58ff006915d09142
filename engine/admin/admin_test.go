package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type fakeController struct {
	reloadErr error
	reloads   int
}

func (f *fakeController) Status() any { return map[string]any{"listeners": []string{"a"}} }

func (f *fakeController) Reload(context.Context) error {
	f.reloads++
	return f.reloadErr
}

func TestAdminRoutes(t *testing.T) {
	tests := []struct {
		name, method, path, token string
		reloadErr                 error
		wantCode                  int
		wantBody                  string
	}{
		{"health needs no token", "GET", "/healthz", "", nil, 200, "ok"},
		{"status without token is refused", "GET", "/status", "", nil, 401, "bearer token"},
		{"status with token", "GET", "/status", "s3cret", nil, 200, `"listeners"`},
		{"wrong token is refused", "GET", "/status", "nope", nil, 401, "bearer token"},
		{"metrics with token", "GET", "/metrics", "s3cret", nil, 200, "go_goroutines"},
		{"reload succeeds", "POST", "/reload", "s3cret", nil, 200, "reloaded"},
		{"reload failure is reported", "POST", "/reload", "s3cret", errors.New("scripts/x.lua:3: boom"), 422, "scripts/x.lua:3: boom"},
		{"reload needs POST", "GET", "/reload", "s3cret", nil, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{Token: "s3cret", Controller: &fakeController{reloadErr: tt.reloadErr}}
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("%s %s: %d %q, want %d containing %q", tt.method, tt.path, rec.Code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestServerStartsOnAFreePortAndStops(t *testing.T) {
	s := &Server{Listen: "127.0.0.1:0", Controller: &fakeController{}}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Error("server still answers after Shutdown")
	}
}
