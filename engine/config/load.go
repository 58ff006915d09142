package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/moontide/moontide/engine/hint"
)

// Load reads every *.yaml and *.yml file of dir in lexical order, expands
// environment variables, checks each file strictly, merges them, applies
// defaults and validates. Any error names the file and line it comes from.
func Load(dir string) (*Config, error) {
	return LoadWith(dir, os.LookupEnv)
}

// LoadWith is Load with the environment supplied by lookup, so tests and
// tools need not touch the process environment.
func LoadWith(dir string, lookup Lookup) (*Config, error) {
	files, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	var docs []fileDoc
	for _, f := range files {
		d, err := readFile(f, lookup)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return build(files, docs)
}

// Parse builds a Config from one YAML text, as if it were the only file of
// a conf.d directory; name is used in error messages.
func Parse(name string, data []byte, lookup Lookup) (*Config, error) {
	docs, err := parseFile(name, data, lookup)
	if err != nil {
		return nil, err
	}
	return build([]string{name}, docs)
}

func listFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading config directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") || strings.HasPrefix(name, ".") {
			continue
		}
		files = append(files, filepath.Join(dir, name))
	}
	// ReadDir sorts by name already; sorting again states the contract.
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("config directory %s holds no *.yaml files", dir)
	}
	return files, nil
}

// fileDoc is one YAML document of one file, expanded and checked.
type fileDoc struct {
	file string
	root *yaml.Node // a mapping node
}

func readFile(path string, lookup Lookup) ([]fileDoc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading config: %w", err)
	}
	return parseFile(path, data, lookup)
}

// parseFile decodes every document of a file into nodes, expands variables
// in scalar values, and checks keys and types against Config. Expanding in
// the node tree rather than the raw text keeps line numbers exact and
// means a secret holding '#', ': ' or a quote cannot change the YAML's
// structure; comments are never expanded.
func parseFile(name string, data []byte, lookup Lookup) ([]fileDoc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []fileDoc
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, yamlError(name, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue // a document holding only comments
		}
		if root.Kind != yaml.MappingNode {
			return nil, &FileError{File: name, Line: root.Line, Err: errors.New("expected a mapping of sections (source:, kafka:, sinks:, ...)")}
		}
		if err := expandNode(root, lookup); err != nil {
			var fe *FileError
			if errors.As(err, &fe) {
				fe.File = name
			}
			return nil, err
		}
		if err := checkKeys(name, root, reflect.TypeOf(Config{}), "", nil); err != nil {
			return nil, err
		}
		// Decoding on its own catches type errors (a string for a number)
		// while the file they are in is still known.
		probe := Default()
		if err := root.Decode(&probe); err != nil {
			return nil, yamlError(name, err)
		}
		docs = append(docs, fileDoc{file: name, root: root})
	}
}

// expandNode expands variables in every scalar value below n. Keys are
// left alone. A plain scalar is re-resolved after expansion so that
// `partitions: ${P:-6}` is a number and `brokers: ${B:-}` is null; a
// quoted one stays a string.
func expandNode(n *yaml.Node, lookup Lookup) error {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := Expand(n.Value, lookup)
		if err != nil {
			return &FileError{Line: n.Line, Err: err}
		}
		if v != n.Value {
			n.Value = v
			if n.Style == 0 {
				n.Tag = ""
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if err := expandNode(n.Content[i], lookup); err != nil {
				return err
			}
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			if err := expandNode(c, lookup); err != nil {
				return err
			}
		}
	}
	// Aliases point at an anchor expanded where it was defined.
	return nil
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKeys walks n alongside the Go type t and reports the first key that
// no field declares. yaml.v3 can do this itself only when it reads the
// text (Decoder.KnownFields), which would force expansion back into the
// raw text; walking the tree also lets the message suggest the right key.
func checkKeys(file string, n *yaml.Node, t reflect.Type, path string, seen map[*yaml.Node]bool) error {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || seen[n.Alias] {
			return nil
		}
		if seen == nil {
			seen = map[*yaml.Node]bool{}
		}
		seen[n.Alias] = true
		defer delete(seen, n.Alias)
		return checkKeys(file, n.Alias, t, path, seen)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the type mismatch
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				if err := checkMerge(file, v, t, path, seen); err != nil {
					return err
				}
				continue
			}
			f, ok := fields[k.Value]
			if !ok {
				return &FileError{File: file, Line: k.Line, Err: unknownKey(k.Value, path, fields)}
			}
			if err := checkKeys(file, v, f.Type, joinPath(path, k.Value), seen); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(file, n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), seen); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for _, c := range n.Content {
			if err := checkKeys(file, c, t.Elem(), path, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkMerge(file string, v *yaml.Node, t reflect.Type, path string, seen map[*yaml.Node]bool) error {
	if v.Kind == yaml.SequenceNode {
		for _, c := range v.Content {
			if err := checkKeys(file, c, t, path, seen); err != nil {
				return err
			}
		}
		return nil
	}
	return checkKeys(file, v, t, path, seen)
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func unknownKey(key, path string, fields map[string]reflect.StructField) error {
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	known := sortedKeys(fields)
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	normed := make([]string, len(known))
	for i, k := range known {
		normed[i] = norm(k)
	}
	// A hint further off than a third of the key's length is noise.
	if best, ok := hint.Closest(norm(key), normed, len(key)/3+1); ok {
		return fmt.Errorf("unknown key %q %s; did you mean %q?", key, where, known[slices.Index(normed, best)])
	}
	return fmt.Errorf("unknown key %q %s; known keys: %s", key, where, strings.Join(known, ", "))
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns yaml.v3's "yaml: line 4: ..." and its multi-line
// unmarshal errors into file:line errors.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var p Problems
		for _, msg := range te.Errors {
			p = append(p, lineError(file, msg))
		}
		if len(p) == 1 {
			return p[0]
		}
		return p
	}
	return lineError(file, err.Error())
}

func lineError(file, msg string) error {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FileError{File: file, Line: line, Err: errors.New(m[2])}
	}
	return &FileError{File: file, Err: errors.New(msg)}
}

// build merges the documents in order, decodes the result over the
// defaults and validates it.
func build(files []string, docs []fileDoc) (*Config, error) {
	merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	origins := map[string]string{}
	for _, d := range docs {
		mergeNode(merged, d.root, d.file, "", origins)
	}
	cfg := Default()
	if err := merged.Decode(&cfg); err != nil {
		// Each file decoded on its own, so this means the merge itself
		// produced something odd; say so rather than blame a file.
		return nil, fmt.Errorf("decoding merged configuration: %w", err)
	}
	cfg.setDefaults()
	cfg.Files = files
	cfg.origins = origins
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// mergeNode merges the mapping src into the mapping dst: a key whose value
// is a mapping on both sides merges recursively, a null value removes the
// key (so a later file can return a key to its default or drop a sink),
// and anything else replaces the earlier value. origins records the
// file:line that set each key, for validation messages.
func mergeNode(dst, src *yaml.Node, file, path string, origins map[string]string) {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		p := joinPath(path, k.Value)
		j := mappingIndex(dst, k.Value)
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			forget(origins, p)
			if j >= 0 {
				dst.Content = append(dst.Content[:j], dst.Content[j+2:]...)
			}
			continue
		}
		if v.Kind == yaml.MappingNode && k.Value != "<<" {
			// Merge into a mapping of our own so later merges never
			// mutate a file's tree, and nulls inside are dropped too.
			if j < 0 || dst.Content[j+1].Kind != yaml.MappingNode {
				forget(origins, p)
				c := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Column: v.Column}
				if j < 0 {
					dst.Content = append(dst.Content, k, c)
				} else {
					dst.Content[j+1] = c
				}
			}
			origins[p] = fmt.Sprintf("%s:%d", file, k.Line)
			mergeNode(dst.Content[mappingIndex(dst, k.Value)+1], v, file, p, origins)
			continue
		}
		forget(origins, p)
		origins[p] = fmt.Sprintf("%s:%d", file, k.Line)
		recordOrigins(v, file, p, origins)
		if j >= 0 {
			dst.Content[j+1] = v
		} else {
			dst.Content = append(dst.Content, k, v)
		}
	}
}

func mappingIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func forget(origins map[string]string, path string) {
	for k := range origins {
		if k == path || strings.HasPrefix(k, path+".") || strings.HasPrefix(k, path+"[") {
			delete(origins, k)
		}
	}
}

func recordOrigins(n *yaml.Node, file, path string, origins map[string]string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := joinPath(path, n.Content[i].Value)
			origins[p] = fmt.Sprintf("%s:%d", file, n.Content[i].Line)
			recordOrigins(n.Content[i+1], file, p, origins)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			origins[indexPath(path, i)] = fmt.Sprintf("%s:%d", file, c.Line)
		}
	}
}
