// Command agentbar runs the agent bar server: the secrets-holding proxy
// (control channel, SIP edge, event log) and the built-in call center.
//
//	agentbar -config agentbar.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentbar/agentbar/server"
	"github.com/agentbar/agentbar/server/config"
)

func main() {
	path := flag.String("config", "", "YAML configuration file (environment AGENTBAR_* overrides it)")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(*path, log); err != nil {
		log.Error("agentbar stopped", "err", err)
		os.Exit(1)
	}
}

func run(path string, log *slog.Logger) error {
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close(context.Background())
	fmt.Fprintf(os.Stderr, "\nagentbar is running: open %s/\n", cfg.PublicURL)
	if cc := srv.CallCenter(); cc != nil {
		fmt.Fprintf(os.Stderr, "SIP trunk: dial sip:<queue>@%s (queues:", cc.Addrs().Trunk)
		for _, q := range cfg.CallCenter.Queues {
			fmt.Fprintf(os.Stderr, " %s", q.ID)
		}
		fmt.Fprintf(os.Stderr, "); demo agents sign in with the passwords in the config.\n\n")
	}
	return srv.Run(ctx, ln)
}
