package cloud

// RequireProjectID returns t.ProjectID, or a KindPermanent error naming
// spec.projectID when it is empty or unusable as a path segment. It does
// not default it: the controller resolves the project before any request.
func (t Target) RequireProjectID() (string, error) {
	if err := RequireSegment("spec.projectID", t.ProjectID); err != nil {
		return "", err
	}
	return t.ProjectID, nil
}
