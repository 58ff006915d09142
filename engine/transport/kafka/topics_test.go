package kafka

import (
	"slices"
	"testing"

	"github.com/moontide/moontide/internal/testenv"
)

func TestIntegrationTopicsListMatchesPatternsToSanitizedNames(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, 0)
	topics := NewTopics(brokers, testenv.UniqueName(t, "list"), "", 1, 1)
	tables := [][2]string{{"shop-eu", "order.items"}, {"shop-eu", "orders"}, {"blog", "posts"}}
	for _, tb := range tables {
		if err := topics.Ensure(ctx, topics.Name(tb[0], tb[1])); err != nil {
			t.Fatal(err)
		}
	}
	name := func(i int) string { return topics.Name(tables[i][0], tables[i][1]) }
	tests := []struct {
		patterns []string
		want     []string
	}{
		{[]string{"shop-eu.`order.items`"}, []string{name(0)}},
		{[]string{"shop-eu.order*"}, []string{name(0), name(1)}},
		{[]string{"shop-eu.*"}, []string{name(0), name(1)}},
		{[]string{"*.posts", "shop-eu.orders"}, []string{name(1), name(2)}},
		{[]string{"shop.*"}, nil},
	}
	for _, tt := range tests {
		got, err := topics.List(ctx, tt.patterns)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.patterns, got, tt.want)
		}
	}
	if _, err := topics.List(ctx, []string{"shop"}); err == nil {
		t.Error("List accepted a malformed pattern")
	}
}
