package pattern

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern       string
		schema, table string
		want          bool
	}{
		{"shop.orders", "shop", "orders", true},
		{"shop.orders", "shop", "orders_old", false},
		{"shop.*", "shop", "anything", true},
		{"shop.*", "blog", "posts", false},
		{"*.orders", "eu_shop", "orders", true},
		{"shop.order_*", "shop", "order_items", true},
		{"shop.order_*", "shop", "order_", true},
		{"shop.order_*", "shop", "orders", false},
		{"shop.a*z", "shop", "abcz", true},
		{"shop.a*z", "shop", "abc", false},
		{"shop.ab*ba", "shop", "aba", false},
		{"s.*a*b*", "s", "xxaybz", true},
		{"s.*a*b*", "s", "xxbyaz", false},
		{"shop*.orders", "shop.x", "orders", true},
		{"shop.*", "shop", "", true}, // schema-level DDL
		{"shop.orders", "shop", "", false},
		{"shop.Order Details", "shop", "Order Details", true},
		{"shop.`order.items`", "shop", "order.items", true},
		{"shop.`order.items`", "shop", "order_items", false},
		{"`my.db`.*", "my.db", "t", true},
		{"`my.db`.*", "my", "db.t", false},
		{"shop.`a*`", "shop", "a*", true},
		{"shop.`a*`", "shop", "ab", false},
		{"shop.`a``b`", "shop", "a`b", true},
		{"shop.` padded `", "shop", " padded ", true},
		{"`shop`.`orders`", "shop", "orders", true},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.pattern, err)
			continue
		}
		if got := p.Match(tt.schema, tt.table); got != tt.want {
			t.Errorf("%q matches %q.%q = %v, want %v", tt.pattern, tt.schema, tt.table, got, tt.want)
		}
		if p.String() != tt.pattern {
			t.Errorf("String() = %q, want %q", p.String(), tt.pattern)
		}
	}
}

func TestParseRejectsMalformedPatterns(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"", "empty name"},
		{"orders", "want schema.table"},
		{".orders", "empty name"},
		{"shop.", "empty name"},
		{"a.b.c", "more than one '.'; backquote a name that holds one"},
		{"shop. orders", `space around " orders"`},
		{"shop .orders", `space around "shop "`},
		{"sh`op.orders", "a backquote inside a name"},
		{"shop.`orders", "unclosed backquote"},
		{"shop.``", "empty name in backquotes"},
		{"`shop`x.orders", `"x" after a backquoted name`},
		{"shop.`orders`x", `"x" after a backquoted name`},
		{"shop.`a`.b", "more than one '.'"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.pattern)
		if err == nil {
			t.Errorf("Parse(%q) accepted a malformed pattern", tt.pattern)
			continue
		}
		if want := "pattern " + `"` + strings.ReplaceAll(tt.pattern, `"`, `\"`) + `": ` + tt.want; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%q) = %q, want it to start with %q", tt.pattern, err, want)
		}
	}
}

func TestSchemaPartAlone(t *testing.T) {
	tests := []struct {
		pattern  string
		schema   string
		match    bool
		anyTable bool
	}{
		{"shop.*", "shop", true, true},
		{"shop.orders", "shop", true, false},
		{"sh*.*", "shop", true, true},
		{"shop.`*`", "shop", true, false},
		{"shop.a*", "shop", true, false},
		{"`my.db`.*", "my.db", true, true},
		{"blog.*", "shop", false, true},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if p.MatchSchema(tt.schema) != tt.match || p.AnyTable() != tt.anyTable {
			t.Errorf("%q: MatchSchema(%q) = %v, AnyTable() = %v; want %v, %v", tt.pattern, tt.schema, p.MatchSchema(tt.schema), p.AnyTable(), tt.match, tt.anyTable)
		}
	}
}

func TestMapKeepsTheWildcards(t *testing.T) {
	p, err := Parse("shop-eu.`order.items*`")
	if err != nil {
		t.Fatal(err)
	}
	underscore := func(s string) string { return strings.NewReplacer(".", "_", "-", "_").Replace(s) }
	m := p.Map(underscore)
	if !m.Match("shop_eu", "order_items*") || m.Match("shop_eu", "order_items_x") {
		t.Error("Map changed what the pattern matches beyond its literal runs")
	}
	w, _ := Parse("a-b.x*y")
	if mw := w.Map(underscore); !mw.Match("a_b", "x__y") || mw.Match("a-b", "xy") {
		t.Error("Map lost a wildcard")
	}
}
