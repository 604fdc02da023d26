// Command plugin is an IA Modules plugin written in Go: the step `go_upper`
// (uppercases one field of its input) and the condition `go_even` (true when
// one field of its input is an even number).
//
// The plugin host starts it (see plugin.yaml); run by hand it explains that and
// exits. It follows the handshake in protos/ia/plugin/v1/service.proto: check
// the magic cookie and protocol versions, serve PluginService and
// grpc.health.v1 on IA_PLUGIN_SOCKET, then print the handshake line.
//
//	go build -o bin/plugin ./examples/plugin   (from sdk/go)
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const (
	magicCookieKey   = "IA_PLUGIN_MAGIC_COOKIE"
	magicCookie      = "6c1b0a4e3f2d49e8a7b5c9d0e1f2a3b4-ia-modules-plugin"
	protocolsKey     = "IA_PLUGIN_PROTOCOL_VERSIONS"
	socketKey        = "IA_PLUGIN_SOCKET"
	protocolVersion  = "1"
	handshakePattern = "IA-PLUGIN|%s|unix|%s|grpc\n"
)

// socketPath checks the variables the host sets and returns where to serve.
func socketPath(getenv func(string) string) (string, error) {
	if getenv(magicCookieKey) != magicCookie {
		return "", errors.New(magicCookieKey + " is missing or wrong: this program is an IA Modules plugin " +
			"and is started by the plugin host, not run directly. To try it, use `ia-plugin test <folder>`.")
	}
	accepted := strings.Split(getenv(protocolsKey), ",")
	for i := range accepted {
		accepted[i] = strings.TrimSpace(accepted[i])
	}
	if !slices.Contains(accepted, protocolVersion) {
		return "", fmt.Errorf("the host accepts plugin protocol versions %q; this plugin speaks %s",
			getenv(protocolsKey), protocolVersion)
	}
	path := getenv(socketKey)
	if path == "" {
		return "", errors.New(socketKey + " is not set: the host must say where to serve")
	}
	return path, nil
}

func run() error {
	path, err := socketPath(os.Getenv)
	if err != nil {
		return err
	}
	listener, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", path, err)
	}
	calls := newLimit(os.Getenv)
	server := grpc.NewServer(grpc.UnaryInterceptor(calls.unary), grpc.StreamInterceptor(calls.stream))
	registerPlugin(server)
	healthServer := health.NewServer()
	healthServer.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(server, healthServer)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		healthServer.Shutdown()
		server.GracefulStop()
	}()
	// The listener is bound: callers can connect from now on, so announce it.
	fmt.Printf(handshakePattern, protocolVersion, path)
	return server.Serve(listener)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "plugin:", err)
		os.Exit(1)
	}
}
