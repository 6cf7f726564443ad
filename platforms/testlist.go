package platforms

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sourceTests lists a package's tests from its test files, as go test's
// generated main finds them (TestSourceTestsMatchTestList holds it to the
// binary's own -test.list). files are the package's TestGoFiles and
// XTestGoFiles for the target, so build constraints are already applied.
func sourceTests(dir string, files []string) ([]string, error) {
	fset := token.NewFileSet()
	var names []string
	var parsed []*ast.File
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, f)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil {
				continue
			}
			n := fn.Name.Name
			switch {
			case n == "TestMain" && !takesTestingType(fn, "T"):
				// The package's main, not a test.
			case hasTestPrefix(n, "Test"), hasTestPrefix(n, "Fuzz"):
				// go test -c has already refused a wrong signature.
				names = append(names, n)
			}
		}
	}
	// Examples run only when they say their output.
	for _, ex := range doc.Examples(parsed...) {
		if ex.Output != "" || ex.EmptyOutput {
			names = append(names, "Example"+ex.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// SourceTests lists the package's tests from its test files, for a package
// whose binary never built; nil when it has no test files.
func (p *Package) SourceTests() ([]string, error) {
	if len(p.testFiles) == 0 {
		return nil, nil
	}
	return sourceTests(p.Dir, p.testFiles)
}

// hasTestPrefix tells whether name is prefix followed by nothing or by a
// character that is not a lower-case letter (TestX, Test, not Testify).
func hasTestPrefix(name, prefix string) bool {
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	if len(name) == len(prefix) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(name[len(prefix):])
	return !unicode.IsLower(r)
}

// takesTestingType tells whether fn's one parameter is a *testing.<typ>.
func takesTestingType(fn *ast.FuncDecl, typ string) bool {
	ps := fn.Type.Params.List
	if len(ps) != 1 || len(ps[0].Names) > 1 {
		return false
	}
	star, ok := ps[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	switch x := star.X.(type) {
	case *ast.SelectorExpr:
		return x.Sel.Name == typ
	case *ast.Ident: // import . "testing"
		return x.Name == typ
	}
	return false
}
