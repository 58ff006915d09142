package all_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/moontide/moontide/"

// TestImportDirection keeps the rules of DESIGN §5 and STYLE.md: engine never
// imports builtins, engine/event imports nothing of ours, and a builtin never
// imports another builtin (builtins/all, which links them, excepted; tests
// may link a builtin such as json that their scripts require).
func TestImportDirection(t *testing.T) {
	for _, root := range []string{"../../engine", "../../builtins"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			rel := filepath.ToSlash(strings.TrimPrefix(path, "../../"))
			pkg := filepath.ToSlash(filepath.Dir(rel))
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				ours, ok := strings.CutPrefix(p, module)
				if !ok {
					continue
				}
				switch {
				case strings.HasPrefix(pkg, "engine/") && strings.HasPrefix(ours, "builtins/"):
					t.Errorf("%s imports %s: engine never imports builtins", rel, p)
				case pkg == "engine/event":
					t.Errorf("%s imports %s: engine/event imports nothing of moontide's", rel, p)
				case strings.HasPrefix(pkg, "builtins/") && pkg != "builtins/all" && !strings.HasSuffix(rel, "_test.go") &&
					strings.HasPrefix(ours, "builtins/") && !strings.HasPrefix(pkg+"/", ours+"/"):
					t.Errorf("%s imports %s: builtins never import each other", rel, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
