package cloud

import (
	"fmt"
	"strings"
	"testing"
)

// TestCredentialsFromSecretData: the keys a credentials Secret may hold,
// each problem named by key and position, never by value.
func TestCredentialsFromSecretData(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]string
		want string // "" = accepted
	}{
		{"keys with a trailing newline", map[string]string{"accessKey": "AK\n", "secretKey": "SK\n"}, ""},
		{"temporary credentials", map[string]string{"accessKey": "AK", "secretKey": "SK", "securityToken": "T0k3n+/="}, ""},
		{"secret key with spaces and symbols", map[string]string{"accessKey": "AK", "secretKey": "a b!é"}, ""},
		{"no access key", map[string]string{"secretKey": "SK"}, "accessKey is missing"},
		{"no secret key", map[string]string{"accessKey": "AK"}, "secretKey is missing"},
		{"blank secret key", map[string]string{"accessKey": "AK", "secretKey": " \n"}, "secretKey is empty"},
		{"CR/LF inside the access key", map[string]string{"accessKey": "AK\r\nX-Evil: 1", "secretKey": "SK"}, "accessKey has a line break at byte 3"},
		{"space inside the access key", map[string]string{"accessKey": "A K", "secretKey": "SK"}, "accessKey has a space at byte 2"},
		{"NUL in the secret key", map[string]string{"accessKey": "AK", "secretKey": "S\x00K"}, "secretKey has a control character at byte 2"},
		{"non-ASCII in the security token", map[string]string{"accessKey": "AK", "secretKey": "SK", "securityToken": "tøken"}, "securityToken has a non-ASCII byte at byte 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := map[string][]byte{}
			for k, v := range tc.data {
				data[k] = []byte(v)
			}
			c, err := CredentialsFromSecretData(data)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
				if strings.ContainsAny(c.AccessKey+c.SecretKey, "\n") {
					t.Errorf("white space kept: %q", c.AccessKey)
				}
			case err == nil || !strings.HasPrefix(err.Error(), tc.want):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestCredentialsNeverFormat: however credentials are printed, no field's
// value appears.
func TestCredentialsNeverFormat(t *testing.T) {
	c := Credentials{AccessKey: "AKVALUE", SecretKey: "SKVALUE", SecurityToken: "TOKVALUE"}
	js, _ := c.MarshalJSON()
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c, c, c), fmt.Sprint(&c), fmt.Sprint(Target{Credentials: c}),
		fmt.Sprintf("%+v", Target{Credentials: c}), string(js), fmt.Sprint(c.MarshalLog())} {
		for _, v := range []string{"AKVALUE", "SKVALUE", "TOKVALUE", "414b56414c5545"} {
			if strings.Contains(out, v) {
				t.Errorf("%q shows %s", out, v)
			}
		}
	}
}

// FuzzCredentialsFromSecretData: whatever a Secret holds, the result is
// either credentials that can be sent (no byte a header cannot carry) or
// an error that quotes none of the values.
func FuzzCredentialsFromSecretData(f *testing.F) {
	f.Add([]byte("AK"), []byte("SK"), []byte(""))
	f.Add([]byte("AK\r\nX: y"), []byte("SK"), []byte("tok"))
	f.Add([]byte(" AK \n"), []byte("\x00"), []byte("t\x7f"))
	f.Fuzz(func(t *testing.T, ak, sk, token []byte) {
		data := map[string][]byte{"accessKey": ak, "secretKey": sk}
		if len(token) > 0 {
			data["securityToken"] = token
		}
		c, err := CredentialsFromSecretData(data)
		if err != nil {
			msg := err.Error()
			for _, v := range [][]byte{ak, sk, token} {
				if s := strings.TrimSpace(string(v)); len(s) > 3 && strings.Contains(msg, s) {
					t.Fatalf("error %q quotes a value", msg)
				}
			}
			return
		}
		if c.Check() != nil {
			t.Fatalf("accepted unusable credentials")
		}
		for _, v := range []string{c.AccessKey, c.SecurityToken} {
			if strings.ContainsAny(v, " \r\n\t\x00") {
				t.Fatalf("accepted a header value with white space or control characters")
			}
		}
	})
}
