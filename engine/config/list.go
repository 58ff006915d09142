package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// StringList is a list that may be written either as a YAML sequence or as
// one comma-separated string. The string form exists for environment
// variables: `brokers: ${MOONTIDE_KAFKA_BROKERS:-}` must work whether the
// variable holds one address, several separated by commas, or nothing
// (which yields an empty list). Items are trimmed and empty items dropped.
type StringList []string

// UnmarshalYAML accepts a sequence of scalars, a scalar holding a
// comma-separated list, or null.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			*l = nil
			return nil
		}
		*l = splitList(n.Value)
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind == yaml.AliasNode && item.Alias != nil {
				item = item.Alias
			}
			if item.Kind != yaml.ScalarNode {
				return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: list items must be plain values", item.Line)}}
			}
			if v := strings.TrimSpace(item.Value); v != "" && item.ShortTag() != "!!null" {
				out = append(out, v)
			}
		}
		*l = out
		return nil
	default:
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expected a list or a comma-separated string", n.Line)}}
	}
}

func splitList(s string) StringList {
	var out StringList
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
