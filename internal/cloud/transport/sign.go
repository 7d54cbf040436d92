package transport

import (
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/cloudop/cloudop/internal/cloud"
)

// Header names the signature involves.
const (
	HeaderSdkDate       = "X-Sdk-Date"
	HeaderSecurityToken = "X-Security-Token"
	HeaderProjectID     = "X-Project-Id"
	HeaderAuthorization = "Authorization"
)

// SdkDateFormat is the layout of X-Sdk-Date (UTC, basic ISO 8601).
const SdkDateFormat = "20060102T150405Z"

// Sign adds X-Sdk-Date, Authorization (SDK-HMAC-SHA256) and, for temporary
// credentials, X-Security-Token to req. The signature itself is computed
// by the official SDK's signer so that we follow its canonicalisation
// exactly; only the request shape is translated here.
//
// body is the request payload (nil for GET). now fixes the signing time:
// the SDK signer reads X-Sdk-Date from the request headers, so passing it
// in makes signatures reproducible in tests and immune to the SDK calling
// time.Now itself.
//
// The Host header is signed too (as Huawei's API Gateway examples do) so a
// signed request cannot be replayed against another host.
func Sign(req *http.Request, body []byte, c cloud.Credentials, now time.Time) error {
	ak := strings.TrimSpace(c.AccessKey)
	sk := strings.TrimSpace(c.SecretKey)
	token := strings.TrimSpace(c.SecurityToken)
	if ak == "" || sk == "" {
		// A missing key is something the Secret's owner fixes, so it is an
		// auth problem rather than a permanent configuration error.
		return &cloud.Error{Kind: cloud.KindAuth, Message: "credentials have no access key or secret key"}
	}
	if req.URL == nil {
		return cloud.Permanentf("request has no URL")
	}

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	date := now.UTC().Format(SdkDateFormat)

	b := request.NewHttpRequestBuilder().
		WithEndpoint(req.URL.Scheme + "://" + host).
		WithPath(req.URL.Path).
		WithMethod(req.Method)
	// The SDK's request holds one value per header; the gateway verifies
	// repeated headers as a comma-joined list, which is what we send too.
	for k, vs := range req.Header {
		if strings.EqualFold(k, HeaderAuthorization) || strings.EqualFold(k, "Host") {
			continue
		}
		b.AddHeaderParam(http.CanonicalHeaderKey(k), strings.Join(vs, ","))
	}
	b.AddHeaderParam("Host", host)
	b.AddHeaderParam(HeaderSdkDate, date)
	if token != "" {
		b.AddHeaderParam(HeaderSecurityToken, token)
	}
	// The SDK only canonicalises query values wrapped in reflect.Value; a
	// []string becomes one key=value pair per element.
	q := req.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.AddQueryParam(k, reflect.ValueOf(q[k]))
	}
	if len(body) > 0 {
		b.WithBody("", string(body))
	}

	added, err := signer.Sign(b.Build(), ak, sk)
	if err != nil {
		return &cloud.Error{Kind: cloud.KindAuth, Message: "cannot sign request", Err: err}
	}
	for k, v := range added {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set(HeaderSecurityToken, token)
	}
	return nil
}
