package cloud

// RequireProjectID returns the project ID the URL needs: the target's, or
// the credentials' when the target leaves it empty. A missing or unusable
// one is a KindPermanent error naming spec.projectID.
func (t Target) RequireProjectID() (string, error) {
	p := t.ProjectID
	if p == "" {
		p = t.Credentials.ProjectID
	}
	if p == "" {
		return "", Permanentf("spec.projectID is required (or a projectID key in the credentials Secret)")
	}
	if err := RequireSegment("spec.projectID", p); err != nil {
		return "", err
	}
	return p, nil
}
