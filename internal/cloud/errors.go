package cloud

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind classifies a failed observation by what the poller should do
// about it. The controller maps kinds to conditions in one place.
type ErrorKind int

// Error kinds, from "try again soon" to "never works as configured".
const (
	// KindTransient: 5xx, timeouts, resets, unreadable bodies. Retry with
	// backoff; never changes the phase already observed.
	KindTransient ErrorKind = iota
	// KindThrottled: 429 or APIGW.0308. Back off (RetryAfter when sent).
	KindThrottled
	// KindAuth: 401/403. Retry slowly; the Secret may be fixed.
	KindAuth
	// KindNotFound: 404. Permanent once a grace period has passed.
	KindNotFound
	// KindPermanent: 400 and configuration errors the user must fix.
	KindPermanent
)

// String returns the kind's name as used in logs and metrics.
func (k ErrorKind) String() string {
	switch k {
	case KindTransient:
		return "Transient"
	case KindThrottled:
		return "Throttled"
	case KindAuth:
		return "Auth"
	case KindNotFound:
		return "NotFound"
	case KindPermanent:
		return "Permanent"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is a classified failure to observe an operation. Its message is safe
// to show in status: it carries the service's code and request ID, never
// credentials, signed headers or full URLs with secrets.
type Error struct {
	Kind ErrorKind
	// HTTPStatus is 0 when no response was received.
	HTTPStatus int
	// Code is the service's error code (e.g. "APIGW.0301", "BCS.4010401").
	Code string
	// Message is the service's error text (or a short local description).
	Message string
	// RequestID is the X-Request-Id of the failed response, if any.
	RequestID string
	// RetryAfter is the server's requested wait (Retry-After), zero if none.
	RetryAfter time.Duration
	// Err is the underlying cause, if any (not shown in Error()).
	Err error
}

// Error formats the code, message, HTTP status and request ID.
func (e *Error) Error() string {
	msg := e.Message
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if e.HTTPStatus != 0 {
		msg += fmt.Sprintf(" (HTTP %d", e.HTTPStatus)
		if e.RequestID != "" {
			msg += ", request " + e.RequestID
		}
		msg += ")"
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err; errors that are not *Error are transient.
func KindOf(err error) ErrorKind {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return KindTransient
}

// Permanentf returns a KindPermanent error for a configuration problem
// detected locally (no HTTP exchange).
func Permanentf(format string, args ...any) *Error {
	return &Error{Kind: KindPermanent, Message: fmt.Sprintf(format, args...)}
}

// ErrRateLimited marks an error returned without any HTTP exchange because
// the client-side rate limiter (transport.RateLimiter) had no token within
// its maximum wait (or the caller's deadline). Such an error has
// KindThrottled and RetryAfter set to when a token is expected; see
// IsRateLimited. It is declared here, with the error kinds, because the
// controller tells a local deferral from the service's throttling and
// needs only this package for it.
var ErrRateLimited = errors.New("client-side rate limit")

// IsRateLimited reports whether err is a local deferral by the rate
// limiter (no request was sent), as opposed to the service throttling a
// request it received.
func IsRateLimited(err error) bool { return errors.Is(err, ErrRateLimited) }
