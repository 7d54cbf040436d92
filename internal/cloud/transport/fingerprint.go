package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/cloudop/cloudop/internal/cloud"
)

// fingerprintKey keys credential fingerprints; it is random per process,
// so a fingerprint seen in memory says nothing outside it.
var fingerprintKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

// Fingerprint identifies c, the credentials (access key, secret key and
// security token) for sharing answers between callers: two targets share
// a coalesced request or a cached list only when their fingerprints are
// equal, so a Secret with someone else's access key and a wrong secret
// never reads what the right one fetched. It is an HMAC keyed per process
// and reveals nothing about the secret.
func Fingerprint(c cloud.Credentials) string {
	m := hmac.New(sha256.New, fingerprintKey)
	for _, s := range []string{c.AccessKey, c.SecretKey, c.SecurityToken} {
		// Length-prefixed, so no two triples encode alike.
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}
