package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/moontide/moontide/engine/config"
)

// liveSections are the conf.d sections a reload applies: listeners whose
// sinks or script defaults changed are restarted with the new values.
// Every other section is wired into connections and goroutines at start.
var liveSections = map[string]bool{"sinks": true, "scripts": true}

// frozenChanges lists, as dotted keys, what differs between the running
// configuration and a new one in sections a reload cannot apply.
func frozenChanges(old, new *config.Config) ([]string, error) {
	a, err := asMap(old)
	if err != nil {
		return nil, err
	}
	b, err := asMap(new)
	if err != nil {
		return nil, err
	}
	var keys []string
	for section := range a {
		if !liveSections[section] {
			diffKeys(section, a[section], b[section], &keys)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func asMap(c *config.Config) (map[string]any, error) {
	data, err := yaml.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, yaml.Unmarshal(data, &m)
}

// diffKeys appends the dotted paths under which a and b differ.
func diffKeys(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, path)
		}
		return
	}
	seen := map[string]bool{}
	for k := range am {
		seen[k] = true
		diffKeys(path+"."+k, am[k], bm[k], out)
	}
	for k := range bm {
		if !seen[k] {
			diffKeys(path+"."+k, nil, bm[k], out)
		}
	}
}

// errFrozen names the keys that need a restart.
func errFrozen(keys []string) error {
	return fmt.Errorf("conf.d changed where a reload cannot apply it (%s): restart moontide for these; nothing was reloaded", strings.Join(keys, ", "))
}
