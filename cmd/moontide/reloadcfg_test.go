package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/config"
)

func TestFrozenChangesNameWhatAReloadCannotApply(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{"nothing changed", func(*config.Config) {}, nil},
		{"a sink and a script default change live", func(c *config.Config) {
			c.Sinks["redis"] = config.Sink{Type: "redis", Addr: "10.0.0.1:6379"}
			c.Scripts.Timeout = time.Minute
		}, nil},
		{"the source and the log level need a restart", func(c *config.Config) {
			c.Source.DSN = "mysql://u:p@elsewhere:3306/db"
			c.Log.Level = "debug"
		}, []string{"log.level", "source.dsn"}},
		{"brokers need a restart", func(c *config.Config) {
			c.Kafka.Brokers = config.StringList{"k1:9092"}
		}, []string{"kafka.brokers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := config.Default()
			old.Sinks = config.Sinks{"redis": {Type: "redis", Addr: "127.0.0.1:6379"}}
			cur := config.Default()
			cur.Sinks = config.Sinks{"redis": {Type: "redis", Addr: "127.0.0.1:6379"}}
			tt.change(&cur)
			got, err := frozenChanges(&old, &cur)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
