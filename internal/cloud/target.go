package cloud

import (
	"strings"
	"unicode"
)

// RequireProjectID returns t.ProjectID, or a KindPermanent error naming
// spec.projectID when it is empty or unusable as a path segment. It does
// not default it: the controller resolves the project before any request.
func (t Target) RequireProjectID() (string, error) {
	if err := RequireSegment("spec.projectID", t.ProjectID); err != nil {
		return "", err
	}
	return t.ProjectID, nil
}

// RequireJob checks a target of a service whose only kind of operation is
// a job (the classic and the database job services): spec.operationType
// empty or Job, a project ID (see RequireProjectID) and an operation ID
// fit for a path segment. It returns the project ID; any error is
// KindPermanent.
func (t Target) RequireJob() (string, error) {
	if t.OperationType != "" && t.OperationType != OperationTypeJob {
		return "", Permanentf("spec.operationType %q is not supported for %s (want %s)",
			Excerpt(string(t.OperationType), MaxQuotedRunes), t.Service, OperationTypeJob)
	}
	project, err := t.RequireProjectID()
	if err != nil {
		return "", err
	}
	if err := RequireSegment("spec.operationID", t.OperationID); err != nil {
		return "", err
	}
	return project, nil
}

// RequireDeployment checks an RFS target, whose only kind of operation is
// a stack deployment: spec.operationType empty, a project ID (see
// RequireProjectID), spec.stackName and spec.operationID (the
// deployment_id) fit for a path segment, and spec.stackID, when set, too.
// Stack names may hold Chinese letters, which the path-segment rule
// accepts. It returns the project ID; any error is KindPermanent.
func (t Target) RequireDeployment() (string, error) {
	if t.OperationType != "" {
		return "", Permanentf("spec.operationType %q is not supported for %s (a stack deployment has none)",
			Excerpt(string(t.OperationType), MaxQuotedRunes), t.Service)
	}
	project, err := t.RequireProjectID()
	if err != nil {
		return "", err
	}
	if err := RequireSegment("spec.stackName", t.StackName); err != nil {
		return "", err
	}
	if err := RequireSegment("spec.operationID", t.OperationID); err != nil {
		return "", err
	}
	if t.StackID != "" {
		if err := RequireSegment("spec.stackID", t.StackID); err != nil {
			return "", err
		}
	}
	return project, nil
}

// ValidPathSegment reports whether an ID can be placed in a URL path as
// one segment without changing the path's meaning: non-empty, at most 256
// bytes, no "/", "\", "?", "#", "%", whitespace or control characters,
// and not "." or "..".
func ValidPathSegment(s string) bool {
	if s == "" || len(s) > 256 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`/\?#%`, r) {
			return false
		}
	}
	return true
}

// RequireSegment returns a KindPermanent error naming field when value is
// empty or unusable as a path segment; adapters use it for IDs that go
// into the URL.
func RequireSegment(field, value string) error {
	if value == "" {
		return Permanentf("%s is required", field)
	}
	if !ValidPathSegment(value) {
		return Permanentf("%s %q cannot be used in a request path", field, Excerpt(value, MaxQuotedRunes))
	}
	return nil
}
