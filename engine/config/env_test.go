package config

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestExpand(t *testing.T) {
	vars := env(map[string]string{"HOST": "db", "EMPTY": "", "DOLLAR": "$HOME ${X}"})
	tests := []struct {
		name, in, want, err string
	}{
		{name: "text without dollars is unchanged", in: "plain: text", want: "plain: text"},
		{name: "a set variable is replaced", in: "${HOST}:3306", want: "db:3306"},
		{name: "a default is ignored when the variable is set", in: "${HOST:-other}", want: "db"},
		{name: "a default applies when the variable is unset", in: "${PORT:-3306}", want: "3306"},
		{name: "a default applies when the variable is empty", in: "${EMPTY:-x}", want: "x"},
		{name: "an empty default gives an empty string", in: "a${PORT:-}b", want: "ab"},
		{name: "a default may hold colons and slashes", in: "${URL:-http://h:1/p}", want: "http://h:1/p"},
		{name: "a set but empty variable without default is empty", in: "[${EMPTY}]", want: "[]"},
		{name: "$$ is a literal dollar", in: "cost $$5 and $${HOST}", want: "cost $5 and ${HOST}"},
		{name: "a lone dollar stays", in: "$2y$10$abc $HOST $", want: "$2y$10$abc $HOST $"},
		{name: "values are not expanded twice", in: "${DOLLAR}", want: "$HOME ${X}"},
		{name: "several references in one value", in: "${HOST}-${HOST}", want: "db-db"},
		{name: "an unset variable without default is an error", in: "${PASSWORD}", err: "environment variable PASSWORD is not set"},
		{name: "an unterminated reference is an error", in: "${HOST", err: "unterminated ${"},
		{name: "an empty name is an error", in: "${}", err: "bad variable reference ${}"},
		{name: "a name with a dash is an error", in: "${MY-VAR}", err: "bad variable reference ${MY-VAR}"},
		{name: "a name starting with a digit is an error", in: "${1X}", err: "bad variable reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.in, vars)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Expand(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStringList(t *testing.T) {
	tests := []struct {
		name, in string
		want     StringList
		err      bool
	}{
		{name: "a YAML list", in: "[a:1, b:2]", want: StringList{"a:1", "b:2"}},
		{name: "a block list with blanks trimmed", in: "\n- ' a:1 '\n- b:2\n", want: StringList{"a:1", "b:2"}},
		{name: "one address", in: "a:1", want: StringList{"a:1"}},
		{name: "a comma-separated string", in: "a:1,b:2 , c:3", want: StringList{"a:1", "b:2", "c:3"}},
		{name: "an empty string is no items", in: `""`, want: nil},
		{name: "null is no items", in: "~", want: nil},
		{name: "empty items are dropped", in: "',,a,'", want: StringList{"a"}},
		{name: "a mapping is an error", in: "{a: 1}", err: true},
		{name: "a nested list is an error", in: "[[a]]", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct {
				L StringList `yaml:"l"`
			}
			err := yaml.Unmarshal([]byte("l: "+tt.in), &v)
			if tt.err {
				if err == nil {
					t.Fatalf("got %q, want an error", v.L)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(v.L, tt.want) {
				t.Fatalf("got %q, %v; want %q", v.L, err, tt.want)
			}
		})
	}
}

func TestParseStart(t *testing.T) {
	tests := []struct {
		name, flavor, in string
		want             Start
		err              string
	}{
		{name: "empty means the stored checkpoint, else latest", flavor: "mariadb", in: "", want: Start{Kind: StartDefault}},
		{name: "checkpoint", flavor: "mariadb", in: "checkpoint", want: Start{Kind: StartCheckpoint}},
		{name: "earliest in any case", flavor: "mysql", in: "Earliest", want: Start{Kind: StartEarliest}},
		{name: "latest", flavor: "mysql", in: "latest", want: Start{Kind: StartLatest}},
		{name: "file and position", flavor: "mariadb", in: "mysql-bin.000042:1234", want: Start{Kind: StartFilePos, File: "mysql-bin.000042", Pos: 1234}},
		{name: "a position before the header is refused", flavor: "mariadb", in: "mysql-bin.000001:0", err: "positions start at 4"},
		{name: "a non-numeric position is refused", flavor: "mariadb", in: "mysql-bin.000001:x", err: "is not FILE:POS"},
		{name: "a MariaDB GTID list", flavor: "mariadb", in: "0-1-100,1-2-7", want: Start{Kind: StartGTID, GTID: "0-1-100,1-2-7"}},
		{name: "a MySQL GTID set", flavor: "mysql", in: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,4e11fa47-71ca-11e1-9e33-c80aa9429562:23",
			want: Start{Kind: StartGTID, GTID: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,4e11fa47-71ca-11e1-9e33-c80aa9429562:23"}},
		{name: "a single MySQL GTID is not mistaken for FILE:POS", flavor: "mysql", in: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23",
			want: Start{Kind: StartGTID, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23"}},
		{name: "a MySQL tagged GTID", flavor: "mysql", in: "3e11fa47-71ca-11e1-9e33-c80aa9429562:etl:1-3",
			want: Start{Kind: StartGTID, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:etl:1-3"}},
		{name: "a MySQL GTID under the mariadb flavor is refused", flavor: "mariadb", in: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", err: "MariaDB GTID list"},
		{name: "a MariaDB GTID under the mysql flavor is refused", flavor: "mysql", in: "0-1-100", err: "MySQL GTID set"},
		{name: "a word is refused", flavor: "mariadb", in: "newest", err: "none of checkpoint, earliest, latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStart(tt.flavor, tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseStart(%q) = %+v, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseStart(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}
