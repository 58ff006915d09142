package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moontide/moontide/engine/config"
)

const shippedConf = "../../conf.d"

// run executes a command line in-process and returns exit code, stdout and
// stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// clearMoontideEnv unsets every MOONTIDE_* variable for the test, so the
// shipped defaults are what is tested, whatever the developer's shell holds.
func clearMoontideEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MOONTIDE_") {
			t.Setenv(name, "") // restores the old value after the test
			os.Unsetenv(name)
		}
	}
}

// copyConf copies the shipped conf.d into a temporary directory, applying
// edit to the named file.
func copyConf(t *testing.T, file string, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(shippedConf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(shippedConf, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if e.Name() == file {
			s = edit(s)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lineOf is the 1-based line of the first line of s starting with prefix
// after indentation.
func lineOf(t *testing.T, s, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return 0
}

func TestValidateShippedConfig(t *testing.T) {
	clearMoontideEnv(t)
	t.Chdir("../..") // scripts.dir is relative to the working directory
	code, out, errOut := run(t, "validate", "-c", "conf.d")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"ok", "7 files", "embedded mode", "dest (mysql)", "redis (redis)", "search (es)", "listeners: demo-cache"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary %q lacks %q", out, want)
		}
	}
}

func TestValidatePrintRedacts(t *testing.T) {
	clearMoontideEnv(t)
	t.Chdir("../..")
	t.Setenv("MOONTIDE_REDIS_PASSWORD", "redis-secret")
	t.Setenv("MOONTIDE_KAFKA_BROKERS", "k1:9092,k2:9092")
	code, out, errOut := run(t, "validate", "--config", "conf.d", "--print")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, secret := range []string{"redis-secret", "moontide:moontide@"} {
		if strings.Contains(out, secret) {
			t.Errorf("--print shows secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"dsn: mysql://moontide:REDACTED@127.0.0.1:13306/moontide_demo", "password: REDACTED", "- k1:9092", "addr: 127.0.0.1:16379", "heartbeat: 1s"} {
		if !strings.Contains(out, want) {
			t.Errorf("--print lacks %q:\n%s", want, out)
		}
	}
	// The printed config must itself be a valid conf.d file.
	if _, err := config.Parse("printed.yaml", []byte(out), os.LookupEnv); err != nil && !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("printed config does not load back: %v", err)
	}
}

func TestValidateReportsFileAndLine(t *testing.T) {
	clearMoontideEnv(t)
	tests := []struct {
		name, file string
		old, new   string // the edit applied to file
		want       string // the message after "<file>:<line of new>: "
	}{
		{
			name: "a misspelled key in the first file",
			file: "10-source.yaml",
			old:  "server_id:", new: "serverid:",
			want: `unknown key "serverid" in source; did you mean "server_id"?`,
		},
		{
			name: "a misspelled key in a later file",
			file: "40-sinks.yaml",
			old:  "    addr: ${MOONTIDE_REDIS_ADDR", new: "    adr: ${MOONTIDE_REDIS_ADDR",
			want: `unknown key "adr" in sinks.redis; did you mean "addr"?`,
		},
		{
			name: "a value that fails validation",
			file: "70-log.yaml",
			old:  "level: ${MOONTIDE_LOG_LEVEL:-info}", new: "level: verbose",
			want: `log.level: must be debug, info, warn or error, not "verbose"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyConf(t, tt.file, func(s string) string {
				if !strings.Contains(s, tt.old) {
					t.Fatalf("%s lacks %q", tt.file, tt.old)
				}
				return strings.Replace(s, tt.old, tt.new, 1)
			})
			body, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("moontide: %s:%d: %s\n", filepath.Join(dir, tt.file), lineOf(t, string(body), strings.TrimSpace(tt.new)), tt.want)
			code, out, errOut := run(t, "validate", "-c", dir)
			if code != exitFailure || out != "" {
				t.Fatalf("exit %d, stdout %q; want exit %d and nothing on stdout", code, out, exitFailure)
			}
			if errOut != want {
				t.Errorf("stderr = %q\nwant     %q", errOut, want)
			}
		})
	}
}

func TestUnavailableCommands(t *testing.T) {
	for _, args := range [][]string{
		{"sync", "--listener", "x"},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, out, errOut := run(t, args...)
			if code != exitUnavailable {
				t.Errorf("exit %d, want %d", code, exitUnavailable)
			}
			want := "moontide " + args[0] + ": not available yet in this build ("
			if !strings.HasPrefix(errOut, want) || out != "" {
				t.Errorf("stdout %q, stderr %q; want stderr starting %q", out, errOut, want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown command", []string{"captur"}, `unknown command "captur" for "moontide"`},
		{"an unknown flag", []string{"validate", "--prnt"}, "unknown flag: --prnt"},
		{"a missing argument", []string{"exec"}, "accepts 1 arg(s), received 0"},
		{"an extra argument", []string{"version", "now"}, `unknown command "now" for "moontide version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.HasPrefix(errOut, "moontide: ") || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "--help' for usage") {
				t.Errorf("stderr = %q, want %q and a pointer to --help", errOut, tt.want)
			}
		})
	}
}

func TestHelpDescribesEveryCommand(t *testing.T) {
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Short == "" || len(c.Long) < 100 {
			t.Errorf("%s: help too thin (Short %q, Long %d chars)", c.Name(), c.Short, len(c.Long))
		}
		code, out, _ := run(t, c.Name(), "--help")
		if code != exitOK || !strings.Contains(out, "--config") {
			t.Errorf("%s --help: exit %d, output lacks the global --config flag", c.Name(), code)
		}
	}
}

func TestVersion(t *testing.T) {
	old := version
	version = "v9.9.9-test"
	defer func() { version = old }()
	code, out, _ := run(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "moontide v9.9.9-test (") || !strings.Contains(out, "go1.") {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Log
		want string
		err  bool
	}{
		{name: "text at info drops debug", cfg: config.Log{Level: "info", Format: "text"}, want: "level=INFO msg=shown"},
		{name: "json", cfg: config.Log{Level: "debug", Format: "json"}, want: `"msg":"hidden"`},
		{name: "a bad level", cfg: config.Log{Level: "loud", Format: "text"}, err: true},
		{name: "a bad format", cfg: config.Log{Level: "info", Format: "xml"}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := newLogger(tt.cfg, &buf)
			if tt.err {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l.Debug("hidden")
			l.Info("shown", slog.String("table", "shop.orders"))
			if !strings.Contains(buf.String(), tt.want) {
				t.Errorf("log = %q, want %q", buf.String(), tt.want)
			}
			if tt.cfg.Level == "info" && strings.Contains(buf.String(), "hidden") {
				t.Errorf("debug line logged at info: %q", buf.String())
			}
		})
	}
}

func TestValidateReportsScriptErrorsWithFileAndLine(t *testing.T) {
	clearMoontideEnv(t)
	scripts := t.TempDir()
	writeFile(t, filepath.Join(scripts, "broken.lua"), "return {\n  name = \"broken\",\n  subscribe = { \"s.t\" },\n  handle = function(events)\n    local x = = 1\n  end,\n}\n")
	dir := copyConf(t, "50-scripts.yaml", func(s string) string {
		return strings.Replace(s, "${MOONTIDE_SCRIPTS_DIR:-scripts}", scripts, 1)
	})
	code, _, errOut := run(t, "validate", "-c", dir)
	if code != exitFailure || !strings.Contains(errOut, "broken.lua:5") {
		t.Fatalf("exit %d, stderr %q; want exit %d naming broken.lua:5", code, errOut, exitFailure)
	}
}

func TestScriptTestPrintsTheWritesOfRecordedEvents(t *testing.T) {
	clearMoontideEnv(t)
	events, err := filepath.Abs("testdata/demo_events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	code, out, errOut := run(t, "test", "scripts/demo_cache.lua", "--events", events)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := `batch 1: redis[redis].set("item:7", "{\"id\":7,\"price\":\"1.50\"}")
batch 1: redis[redis].del("item:7")
`
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errOut, "demo-cache: 2 events in 1 batches, 2 writes") {
		t.Errorf("stderr %q lacks the summary (the event of another schema must be skipped)", errOut)
	}
}

func TestScriptTestNamesABadEventLine(t *testing.T) {
	clearMoontideEnv(t)
	events := filepath.Join(t.TempDir(), "bad.jsonl")
	writeFile(t, events, "{\"v\":1}\n")
	t.Chdir("../..")
	code, _, errOut := run(t, "test", "scripts/demo_cache.lua", "--events", events)
	if code != exitFailure || !strings.Contains(errOut, "bad.jsonl:1:") {
		t.Fatalf("exit %d, stderr %q; want a failure naming bad.jsonl:1", code, errOut)
	}
}
