// Command cloudsim runs the Huawei Cloud operation-API simulator
// (internal/cloudsim) as a standalone server. See docs/cloudsim.md.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/version"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cloudsim:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:9443", "address to listen on (port 0 picks a free port)")
	config := flag.String("config", "", "scenario file (YAML or JSON); empty starts with no accounts or operations")
	speed := flag.Float64("speed", -1, "simulated seconds per real second; overrides settings.speed when >= 0")
	tlsCert := flag.String("tls-cert", "", "TLS certificate file (serve HTTPS when set with --tls-key)")
	tlsKey := flag.String("tls-key", "", "TLS key file")
	seed := flag.Uint64("seed", 0, "seed for probabilistic faults (0: random)")
	logLevel := flag.String("log-level", "info", "debug logs one line per request; info, warn or error")
	oidcCA := flag.String("oidc-ca-file", "", "CA bundle trusted when fetching identity providers' discovery documents and JWKS (e.g. the kube-apiserver's CA)")
	oidcToken := flag.String("oidc-token-file", "", "bearer token sent when fetching discovery documents and JWKS (the kube-apiserver's /openid/v1/jwks needs an authenticated user)")
	showVersion := flag.Bool("version", false, "print the version and commit, then exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String("cloudsim"))
		return nil
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}

	var cfg cloudsim.Config
	if *config != "" {
		var err error
		if cfg, err = cloudsim.LoadConfig(*config); err != nil {
			return err
		}
	}
	if *speed >= 0 {
		// 0 in the file means "default"; on the command line it pauses.
		cfg.Settings.Speed = *speed
	}
	opts := []cloudsim.Option{cloudsim.WithLogger(logger)}
	if *seed != 0 {
		opts = append(opts, cloudsim.WithSeed(*seed))
	}
	if *oidcCA != "" || *oidcToken != "" {
		c, err := oidcClient(*oidcCA, *oidcToken)
		if err != nil {
			return err
		}
		opts = append(opts, cloudsim.WithOIDCClient(c))
	}
	sim, err := cloudsim.New(cfg, opts...)
	if err != nil {
		return err
	}
	if *speed == 0 {
		if err := sim.SetSpeed(0); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	// Scripts read this line to find the port when --listen ends in :0.
	fmt.Printf("cloudsim listening on %s://%s\n", scheme, ln.Addr())
	logger.Info("started", "address", ln.Addr().String(), "operations", len(sim.Operations("")), "speed", sim.Speed())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// oidcClient is the HTTP client fetching discovery documents and JWKS:
// trusting caFile (when given) and sending the token in tokenFile (when
// given), re-read on every request so a rotated token keeps working.
func oidcClient(caFile, tokenFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("oidc CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("oidc CA %s: no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if tokenFile == "" {
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
	}
	if _, err := os.ReadFile(tokenFile); err != nil {
		return nil, fmt.Errorf("oidc token: %w", err)
	}
	return &http.Client{Transport: bearer{tr, tokenFile}, Timeout: 10 * time.Second}, nil
}

// bearer adds the token of a file to each request.
type bearer struct {
	next http.RoundTripper
	file string
}

// RoundTrip implements http.RoundTripper.
func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := os.ReadFile(b.file)
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	return b.next.RoundTrip(r)
}
