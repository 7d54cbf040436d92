package adaptertest

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloud/transport"
)

// fakeStatuses are the fake service's status words.
var fakeStatuses = cloud.StatusTable{"RUNNING": cloud.PhaseRunning, "SUCCESS": cloud.PhaseSucceeded, "FAIL": cloud.PhaseFailed}

// fakeAdapter reads {"status", "error_code"} from GET /v1/{project}/jobs/
// {id}, with one flaw switched on by name ("" for none).
type fakeAdapter struct {
	http *transport.HTTPClient
	flaw string
}

// Fetch reads the job, or gets it wrong as a.flaw says.
func (a fakeAdapter) Fetch(ctx context.Context, t cloud.Target) (*cloud.Operation, error) {
	path := "/v1/" + t.ProjectID + "/jobs/" + t.OperationID
	switch a.flaw {
	case "wrong secret":
		t.Credentials.SecretKey = "not-the-secret"
	case "drops the token":
		t.Credentials.SecurityToken = ""
	case "undocumented path":
		path = "/v2/" + t.ProjectID + "/jobs/" + t.OperationID
	case "one request too many":
		if _, err := a.http.Get(ctx, t, path, nil, nil); err != nil {
			return nil, err
		}
	}
	body, err := a.http.Get(ctx, t, path, nil, nil)
	if err != nil {
		if a.flaw == "swallows errors" {
			return &cloud.Operation{Phase: cloud.PhaseRunning}, nil
		}
		return nil, err
	}
	var answer struct {
		Status    string `json:"status"`
		ErrorCode string `json:"error_code"`
	}
	if err := cloud.DecodeJSONObject(body, &answer); err != nil {
		if a.flaw == "panics on bad JSON" {
			panic(err)
		}
		return nil, err
	}
	if answer.Status == "" && a.flaw == "takes an error object for success" {
		return &cloud.Operation{Phase: cloud.PhaseSucceeded}, nil
	}
	op := fakeStatuses.NewOperation(answer.Status)
	op.Message = answer.ErrorCode
	return op, nil
}

// fakeKind is the fake service's operation and answers.
var fakeKind = Kind{
	Name:        "FAKE",
	Target:      cloud.Target{Service: "FAKE", ProjectID: "p1", OperationID: "j1"},
	Paths:       []string{"/v1/p1/jobs/j1"},
	Running:     Answer{`{"status":"RUNNING"}`},
	Succeeded:   Answer{`{"status":"SUCCESS"}`},
	Failed:      Answer{`{"status":"FAIL"}`},
	Unknown:     Answer{`{"status":"PAUSED"}`},
	UnknownWord: "PAUSED",
	ErrorIn200:  `{"error_code":"FAKE.0001","error_msg":"no such job"}`,
	ErrorCode:   "FAKE.0001",
}

// TestConformanceCatchesFlaws: a sound adapter passes every case; each
// flaw fails the cases that are about it (and says why), so a passing
// suite means something.
func TestConformanceCatchesFlaws(t *testing.T) {
	tests := []struct {
		flaw string
		// failing are the cases (by name prefix) that must fail; "*" is
		// every case. why is in their first problem.
		failing []string
		why     string
	}{
		{flaw: ""},
		{flaw: "wrong secret", failing: []string{"*"}, why: "cloudsim refused the signature"},
		{flaw: "drops the token", failing: []string{"signed with temporary credentials"}, why: "security token is missing"},
		{flaw: "undocumented path", failing: []string{"*"}, why: "cloudsim does not route this path"},
		// Repeats in a row are forgiven where the transport may resend.
		{flaw: "one request too many", failing: []string{"signed", "succeeded", "failed", "unknown"}, why: "want the documented"},
		{flaw: "swallows errors", failing: []string{"404", "429", "APIGW", "500", "502", "503", "connection reset", "no answer"}, why: "no error"},
		{flaw: "panics on bad JSON", failing: []string{"malformed", "HTML"}, why: "panicked"},
		{flaw: "takes an error object for success", failing: []string{"error object"}, why: "taken as a Succeeded operation"},
	}
	srv := newConformanceServer(t, fakeKind)
	for _, tt := range tests {
		t.Run("flaw "+tt.flaw, func(t *testing.T) {
			adapter := func(c *transport.HTTPClient) cloud.Fetcher { return fakeAdapter{http: c, flaw: tt.flaw} }
			for _, cs := range cases(fakeKind) {
				problems := srv.run(adapter, fakeKind, cs)
				mustFail := false
				for _, prefix := range tt.failing {
					mustFail = mustFail || prefix == "*" || strings.HasPrefix(cs.name, prefix)
				}
				switch {
				case mustFail && len(problems) == 0:
					t.Errorf("%s: passed", cs.name)
				case mustFail && !strings.Contains(strings.Join(problems, "\n"), tt.why):
					t.Errorf("%s: problems do not say %q: %q", cs.name, tt.why, problems)
				case !mustFail && len(problems) > 0:
					t.Errorf("%s: %q", cs.name, problems)
				}
			}
		})
	}
}

// TestEveryAdapterRunsConformance: each adapter package under
// internal/cloud (one declaring an Adapter with a Fetch method) has a
// TestConformance that calls RunConformance, so a new adapter cannot
// skip the suite.
func TestEveryAdapterRunsConformance(t *testing.T) {
	root := filepath.Join("..", "..")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	adapters := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), filepath.Join(root, d.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		isAdapter, runs := false, false
		for _, pkg := range pkgs {
			for _, f := range pkg.Files {
				for _, decl := range f.Decls {
					fn, ok := decl.(*ast.FuncDecl)
					if !ok {
						continue
					}
					isAdapter = isAdapter || fn.Name.Name == "Fetch" && fn.Recv != nil && receiverIs(fn, "Adapter")
					if fn.Name.Name == "TestConformance" && fn.Recv == nil {
						runs = runs || calls(fn, "adaptertest", "RunConformance")
					}
				}
			}
		}
		if isAdapter {
			adapters++
			if !runs {
				t.Errorf("adapter package %s has no TestConformance calling adaptertest.RunConformance", d.Name())
			}
		}
	}
	if adapters == 0 {
		t.Fatalf("no adapter package found under %s", root)
	}
}

// receiverIs reports whether fn is a method of name or *name.
func receiverIs(fn *ast.FuncDecl, name string) bool {
	typ := fn.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.Name == name
}

// calls reports whether fn's body calls pkg.name.
func calls(fn *ast.FuncDecl, pkg, name string) bool {
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == name {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == pkg {
					found = true
				}
			}
		}
		return !found
	})
	return found
}
