package cloud

import (
	"fmt"
	"strings"
)

// Redacted stands for a credential value wherever one could be formatted.
const Redacted = "[redacted]"

// CheckToken says why v cannot be sent as a credential token (an access
// key, security token, identity provider ID or project ID ends up in a
// request header or path): it must be non-empty printable ASCII without
// spaces. The error names the problem and where it is, never the value, so
// a CR/LF pasted into a Secret is reported as such instead of failing
// every request as a transport error.
func CheckToken(v string) error {
	if v == "" {
		return fmt.Errorf("is empty")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("has a %s at byte %d (only printable ASCII without spaces is allowed)", byteKind(c), i+1)
		}
	}
	return nil
}

// checkSecret says why a secret key cannot be used: it is only an HMAC
// key, never sent, so any byte but a control character is allowed.
func checkSecret(v string) error {
	if v == "" {
		return fmt.Errorf("is empty")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c == 0x7f {
			return fmt.Errorf("has a %s at byte %d", byteKind(c), i+1)
		}
	}
	return nil
}

func byteKind(c byte) string {
	switch {
	case c == '\r' || c == '\n':
		return "line break"
	case c == ' ':
		return "space"
	case c < ' ' || c == 0x7f:
		return "control character"
	default:
		return "non-ASCII byte"
	}
}

// CredentialField names one field of Credentials, for errors; its value
// is also the key a credentials Secret holds it under.
type CredentialField string

// The fields of Credentials, as credentials Secret keys.
const (
	FieldAccessKey     CredentialField = "accessKey"
	FieldSecretKey     CredentialField = "secretKey"
	FieldSecurityToken CredentialField = "securityToken"
)

// CredentialError says which field of Credentials is unusable and why,
// without its value.
type CredentialError struct {
	Field  CredentialField
	Reason error
}

// Error implements error.
func (e *CredentialError) Error() string { return fmt.Sprintf("%s %v", e.Field, e.Reason) }

// Check reports the first unusable field: the access key and security
// token (optional) become headers, the secret key an HMAC key.
func (c Credentials) Check() *CredentialError {
	if err := CheckToken(c.AccessKey); err != nil {
		return &CredentialError{Field: FieldAccessKey, Reason: err}
	}
	if err := checkSecret(c.SecretKey); err != nil {
		return &CredentialError{Field: FieldSecretKey, Reason: err}
	}
	if c.SecurityToken != "" {
		if err := CheckToken(c.SecurityToken); err != nil {
			return &CredentialError{Field: FieldSecurityToken, Reason: err}
		}
	}
	return nil
}

// CredentialsFromSecretData reads credentials from a credentials Secret's
// data: accessKey and secretKey required, securityToken optional, each
// without surrounding white space (a trailing newline from `kubectl
// create secret --from-file` is common), then checked (see Check).
func CredentialsFromSecretData(data map[string][]byte) (Credentials, *CredentialError) {
	for _, f := range []CredentialField{FieldAccessKey, FieldSecretKey} {
		if _, ok := data[string(f)]; !ok {
			return Credentials{}, &CredentialError{Field: f, Reason: fmt.Errorf("is missing")}
		}
	}
	c := Credentials{
		AccessKey:     SecretDataValue(data, string(FieldAccessKey)),
		SecretKey:     SecretDataValue(data, string(FieldSecretKey)),
		SecurityToken: SecretDataValue(data, string(FieldSecurityToken)),
	}
	if err := c.Check(); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// SecretDataValue is a Secret key's value without surrounding white space.
func SecretDataValue(data map[string][]byte, key string) string {
	return strings.TrimSpace(string(data[key]))
}

// String shows only which fields are set: credentials never reach a log,
// event or error through fmt, logr or zap.
func (c Credentials) String() string {
	var set []string
	for _, f := range []struct {
		name  CredentialField
		value string
	}{{FieldAccessKey, c.AccessKey}, {FieldSecretKey, c.SecretKey}, {FieldSecurityToken, c.SecurityToken}} {
		if f.value != "" {
			set = append(set, string(f.name)+"="+Redacted)
		}
	}
	return "Credentials{" + strings.Join(set, ", ") + "}"
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// Format is String for every verb, so %+v and %x cannot print a field.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// MarshalLog is what logr (and zapr) print for credentials.
func (c Credentials) MarshalLog() any { return c.String() }

// MarshalJSON keeps credentials out of JSON too (zap encodes structs it
// has no marshaler for as JSON, e.g. a Target passed to a logger).
func (c Credentials) MarshalJSON() ([]byte, error) { return []byte(`"` + c.String() + `"`), nil }
