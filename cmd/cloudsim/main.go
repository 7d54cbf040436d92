// Command cloudsim runs the Huawei Cloud operation-API simulator
// (internal/cloudsim) as a standalone server. See docs/cloudsim.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
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
