package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recorder stands in for the test that calls an accessor. Skip and Fatal
// record what was said and end the goroutine, as testing.T's do.
type recorder struct {
	testing.TB // the real test: Name, Cleanup, Helper
	skipped    string
	fatal      string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs f against a recorder on its own goroutine, as go test runs a
// test, and reports what f returned (if it returned) and what was recorded.
func call(t *testing.T, f func(testing.TB) any) (got any, returned bool, r *recorder) {
	t.Helper()
	r = &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = f(r)
		returned = true
	}()
	<-done
	return got, returned, r
}

func TestAccessors(t *testing.T) {
	accessors := []struct {
		name string
		env  string
		set  string
		want any
		get  func(testing.TB) any
	}{
		{"SourceDSN", SourceDSNVar, "mysql://u:p@127.0.0.1:1/src", "mysql://u:p@127.0.0.1:1/src", func(t testing.TB) any { return SourceDSN(t) }},
		{"DestDSN", DestDSNVar, "mysql://u:p@127.0.0.1:1/dst", "mysql://u:p@127.0.0.1:1/dst", func(t testing.TB) any { return DestDSN(t) }},
		{"MinimalDSN", MinimalDSNVar, "mysql://u:p@127.0.0.1:7/min", "mysql://u:p@127.0.0.1:7/min", func(t testing.TB) any { return MinimalDSN(t) }},
		{"RedisAddr", RedisAddrVar, "127.0.0.1:2", "127.0.0.1:2", func(t testing.TB) any { return RedisAddr(t) }},
		{"KafkaBrokers", KafkaBrokersVar, " 127.0.0.1:3, 127.0.0.1:4 ,", "[127.0.0.1:3 127.0.0.1:4]", func(t testing.TB) any { return fmt.Sprint(KafkaBrokers(t)) }},
		{"ElasticsearchURL", ESURLVar, "http://127.0.0.1:5/", "http://127.0.0.1:5", func(t testing.TB) any { return ElasticsearchURL(t) }},
		{"SourceMySQL", SourceDSNVar, "mysql://u:p@127.0.0.1:6/src", "127.0.0.1:6 u src", func(t testing.TB) any {
			d := SourceMySQL(t)
			return d.Addr() + " " + d.User + " " + d.Database
		}},
		{"MinimalMySQL", MinimalDSNVar, "mysql://u:p@127.0.0.1:8/min", "127.0.0.1:8 u min", func(t testing.TB) any {
			d := MinimalMySQL(t)
			return d.Addr() + " " + d.User + " " + d.Database
		}},
	}
	for _, a := range accessors {
		t.Run(a.name+" returns the variable's value when it is set", func(t *testing.T) {
			t.Setenv(a.env, a.set)
			t.Setenv("CI", "true")
			got, returned, r := call(t, a.get)
			if !returned || r.skipped != "" || r.fatal != "" {
				t.Fatalf("returned=%v skipped=%q fatal=%q", returned, r.skipped, r.fatal)
			}
			if got != a.want {
				t.Errorf("got %v, want %v", got, a.want)
			}
		})
		t.Run(a.name+" skips naming the variable when it is unset outside CI", func(t *testing.T) {
			t.Setenv(a.env, "")
			t.Setenv("CI", "")
			_, returned, r := call(t, a.get)
			if returned {
				t.Fatal("the accessor returned instead of skipping")
			}
			if r.fatal != "" {
				t.Fatalf("failed instead of skipping: %q", r.fatal)
			}
			for _, want := range []string{a.env, "make test", "dev/services.sh"} {
				if !strings.Contains(r.skipped, want) {
					t.Errorf("skip message %q does not mention %q", r.skipped, want)
				}
			}
		})
		t.Run(a.name+" fails when it is unset and CI=true", func(t *testing.T) {
			t.Setenv(a.env, "")
			t.Setenv("CI", "true")
			_, returned, r := call(t, a.get)
			if returned {
				t.Fatal("the accessor returned instead of failing")
			}
			if r.skipped != "" {
				t.Fatalf("skipped in CI: %q", r.skipped)
			}
			if !strings.Contains(r.fatal, a.env) {
				t.Errorf("failure %q does not name %s", r.fatal, a.env)
			}
		})
	}
}

func TestInCI(t *testing.T) {
	for _, c := range []struct {
		value string
		want  bool
	}{
		{"true", true},
		{"1", true},
		{"TRUE", true},
		{"", false},
		{"false", false},
		{"yes please", false},
	} {
		t.Setenv("CI", c.value)
		if got := InCI(); got != c.want {
			t.Errorf("CI=%q: InCI() = %v, want %v", c.value, got, c.want)
		}
	}
}

func TestSourceMySQLFailsOnAMalformedDSNEvenOutsideCI(t *testing.T) {
	t.Setenv(SourceDSNVar, "postgres://u:secret@127.0.0.1/x")
	t.Setenv("CI", "")
	_, returned, r := call(t, func(tb testing.TB) any { return SourceMySQL(tb) })
	if returned || r.fatal == "" {
		t.Fatalf("returned=%v fatal=%q, want a failure", returned, r.fatal)
	}
	if strings.Contains(r.fatal, "secret") {
		t.Errorf("failure %q leaks the password", r.fatal)
	}
}

func TestSourceFailsWhenTheServerDoesNotAnswer(t *testing.T) {
	// Port 1 on loopback: nothing listens there, the dial is refused at once.
	t.Setenv(SourceDSNVar, "mysql://u:p@127.0.0.1:1/x")
	t.Setenv("CI", "")
	_, returned, r := call(t, func(tb testing.TB) any { return Source(tb) })
	if returned || r.fatal == "" {
		t.Fatalf("returned=%v skipped=%q fatal=%q, want a failure", returned, r.skipped, r.fatal)
	}
	if !strings.Contains(r.fatal, SourceDSNVar) || strings.Contains(r.fatal, ":p@") {
		t.Errorf("failure %q should name %s and hide the password", r.fatal, SourceDSNVar)
	}
}

func TestUniqueName(t *testing.T) {
	a, b := UniqueName(t, "mt_"), UniqueName(t, "mt_")
	if a == b {
		t.Errorf("two calls gave the same name %q", a)
	}
	if !strings.HasPrefix(a, "mt_testuniquename_") {
		t.Errorf("%q does not start with the prefix and the test's name", a)
	}
	t.Run("a very long subtest name/with slashes and spaces, and more words to pass sixty bytes", func(t *testing.T) {
		n := UniqueName(t, "mt_")
		if len(n) > 60 {
			t.Errorf("%q is %d bytes, want at most 60", n, len(n))
		}
		if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("%q holds characters outside [a-z0-9_]", n)
		}
	})
}

func TestContextEndsAtTheGivenTimeout(t *testing.T) {
	ctx := Context(t, 50*time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the context did not end")
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 0 {
		t.Errorf("deadline %v, ok=%v", d, ok)
	}
}
