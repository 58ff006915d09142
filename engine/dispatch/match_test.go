package dispatch

import (
	"slices"
	"testing"

	"github.com/moontide/moontide/engine/event"
)

func TestMatcher(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		schema   string
		table    string
		want     bool
	}{
		// The pattern syntax itself is package pattern's; these are the
		// matcher's own: lists, the cache, schema-level events.
		{"an exact pattern matches its table", []string{"shop.orders"}, "shop", "orders", true},
		{"an exact pattern does not match a longer name", []string{"shop.orders"}, "shop", "orders_old", false},
		{"a backquoted name matches literally", []string{"shop.`order.items`"}, "shop", "order.items", true},
		{"any pattern of the list matches", []string{"a.b", "shop.*"}, "shop", "x", true},
		{"schema-level ddl reaches star tables", []string{"shop.*"}, "shop", "", true},
		{"schema-level ddl does not reach exact tables", []string{"shop.orders"}, "shop", "", false},
		{"an empty list matches nothing", nil, "shop", "orders", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMatcher(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // the second answer comes from the cache
				if got := m.Match(tt.schema, tt.table); got != tt.want {
					t.Errorf("call %d: Match(%q, %q) = %v, want %v", i, tt.schema, tt.table, got, tt.want)
				}
			}
		})
	}
}

func TestRouterSendsEventsToSubscribedListeners(t *testing.T) {
	r, err := NewRouter([]Spec{
		{Name: "cache", Subscribe: []string{"shop.orders", "shop.order_items"}},
		{Name: "search", Subscribe: []string{"shop.*"}},
		{Name: "audit", Subscribe: []string{"*.orders"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		schema, table string
		action        event.Action
		want          []int
	}{
		{"shop", "orders", event.Insert, []int{0, 1, 2}},
		{"shop", "orders", event.DDL, []int{0, 1, 2}},
		{"shop", "order_items", event.Update, []int{0, 1}},
		{"shop", "products", event.DDL, []int{1}},
		{"blog", "orders", event.Delete, []int{2}},
		{"blog", "posts", event.Insert, nil},
	}
	for _, tt := range tests {
		e := &event.Event{Action: tt.action, Table: table(tt.schema, tt.table)}
		for i := 0; i < 2; i++ {
			if got := r.RouteEvent(e); !slices.Equal(got, tt.want) {
				t.Errorf("%s %s.%s: routed to %v, want %v", tt.action, tt.schema, tt.table, got, tt.want)
			}
		}
	}
	if got := r.RouteEvent(&event.Event{}); got != nil {
		t.Errorf("an event without a table was routed to %v", got)
	}
}

func TestRouterRejectsABadSubscription(t *testing.T) {
	if _, err := NewRouter([]Spec{{Name: "x", Subscribe: []string{"nodot"}}}); err == nil {
		t.Fatal("NewRouter accepted a pattern without a dot")
	}
}

func BenchmarkRouterCached(b *testing.B) {
	r, _ := NewRouter([]Spec{{Name: "a", Subscribe: []string{"shop.order_*"}}, {Name: "b", Subscribe: []string{"*.*"}}})
	e := &event.Event{Table: table("shop", "order_items")}
	b.ReportAllocs()
	for b.Loop() {
		r.RouteEvent(e)
	}
}
