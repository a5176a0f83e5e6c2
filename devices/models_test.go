package devices

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestModelsStayDeterministic reads the package's own source: no device
// model may start a goroutine, import a package that reaches the host
// (files, sockets, system calls, locks for other goroutines) or read the
// host clock. Host backends belong in package hostio.
func TestModelsStayDeterministic(t *testing.T) {
	forbiddenImports := map[string]bool{
		"os": true, "os/exec": true, "net": true, "syscall": true, "sync": true, "sync/atomic": true,
		"golang.org/x/sys/unix": true, "io/ioutil": true, "math/rand": true, "math/rand/v2": true, "crypto/rand": true,
	}
	// The calendar arithmetic of time (time.Date, time.Unix) is fine; what
	// reads the host clock or waits on it is not.
	forbiddenTime := map[string]bool{
		"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true, "AfterFunc": true,
		"Tick": true, "NewTimer": true, "NewTicker": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbiddenImports[path] || strings.HasPrefix(path, "net/") || path == "ftvm/hostio" {
				t.Errorf("%s imports %s", fset.Position(imp.Pos()), path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine", fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && forbiddenTime[n.Sel.Name] {
					t.Errorf("%s uses time.%s", fset.Position(n.Pos()), n.Sel.Name)
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no source files found")
	}
}
