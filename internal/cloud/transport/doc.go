// Package transport is how cloudop talks to cloud APIs: HTTPClient sends
// signed, bounded GET requests (identical ones in flight share one
// exchange), RateLimiter paces them per credentials, EndpointResolver
// decides where they go, and failed answers are classified into the error
// kinds of package cloud. It also keeps the request metrics, and Router,
// which resolves a target's endpoint and hands it to the service's
// adapter.
//
// It imports package cloud for the model, never the reverse; the service
// adapters (bcs, cce, aos, dws, classicjob, rdsjob, rfs) import it for
// HTTPClient.
package transport
