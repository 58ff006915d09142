package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMySQLDSN(t *testing.T) {
	tests := []struct {
		name, in string
		want     MySQLDSN
		err      string
	}{
		{name: "a full URL", in: "mysql://app:s3cret@db.local:13306/shop?tls=skip-verify",
			want: MySQLDSN{User: "app", Password: "s3cret", Host: "db.local", Port: 13306, Database: "shop", Params: map[string]string{"tls": "skip-verify"}}},
		{name: "port and host default", in: "mysql://app@/shop",
			want: MySQLDSN{User: "app", Host: "127.0.0.1", Port: 3306, Database: "shop", Params: map[string]string{}}},
		{name: "no database", in: "mysql://root:pw@h",
			want: MySQLDSN{User: "root", Password: "pw", Host: "h", Port: 3306, Params: map[string]string{}}},
		{name: "an escaped password is decoded", in: "mysql://u:p%40ss%2Fw@h:1/d",
			want: MySQLDSN{User: "u", Password: "p@ss/w", Host: "h", Port: 1, Database: "d", Params: map[string]string{}}},
		{name: "an IPv6 host", in: "mysql://u@[::1]:3307/d",
			want: MySQLDSN{User: "u", Host: "::1", Port: 3307, Database: "d", Params: map[string]string{}}},
		{name: "another scheme is refused", in: "postgres://u:pw@h/d", err: "scheme must be mysql://"},
		{name: "a bad port is refused", in: "mysql://u:pw@h:99999/d", err: `bad port "99999"`},
		{name: "a database with a slash is refused", in: "mysql://u:pw@h/a/b", err: "contains '/'"},
		{name: "a malformed URL is refused", in: "mysql://u:p%zz@h/d", err: "malformed URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMySQLDSN(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseMySQLDSN(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				for _, secret := range []string{"pw", "p%zz"} {
					if strings.Contains(err.Error(), ":"+secret+"@") {
						t.Errorf("error leaks the password: %v", err)
					}
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseMySQLDSN(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestMySQLDSNForms(t *testing.T) {
	d, err := ParseMySQLDSN("mysql://app:s3cret@db:13306/shop?charset=utf8mb4")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Addr(); got != "db:13306" {
		t.Errorf("Addr = %q", got)
	}
	drv := d.DriverDSN()
	for _, want := range []string{"app:s3cret@tcp(db:13306)/shop", "charset=utf8mb4"} {
		if !strings.Contains(drv, want) {
			t.Errorf("DriverDSN = %q, lacks %q", drv, want)
		}
	}
	if strings.Contains(drv, "parseTime=true") {
		t.Errorf("DriverDSN = %q; dates must stay text", drv)
	}
	if s := d.String(); s != "mysql://app:REDACTED@db:13306/shop?charset=utf8mb4" {
		t.Errorf("String = %q", s)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "a URL password is hidden", in: "mysql://u:pw@h:1/d", want: "mysql://u:REDACTED@h:1/d"},
		{name: "a URL without password is unchanged", in: "http://es:9200", want: "http://es:9200"},
		{name: "a user without password is unchanged", in: "mysql://u@h/d", want: "mysql://u@h/d"},
		{name: "a plain string is unchanged", in: "127.0.0.1:6379", want: "127.0.0.1:6379"},
		{name: "a malformed URL still hides its password", in: "mysql://u:p%zz@h/d", want: "mysql://u:REDACTED@h/d"},
		{name: "a malformed URL with @ in the password hides all of it", in: "mysql://u:a@b%zz@h/d", want: "mysql://u:REDACTED@h/d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
