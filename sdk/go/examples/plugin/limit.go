package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

const maxConcurrencyKey = "IA_PLUGIN_MAX_CONCURRENCY"

// limit refuses PluginService calls beyond the host's IA_PLUGIN_MAX_CONCURRENCY
// in flight with ResourceExhausted (TOO_MANY_CALLS), as the contract asks. Health
// checks are never refused. A nil limit lets every call through.
type limit chan struct{}

func newLimit(getenv func(string) string) limit {
	n, err := strconv.Atoi(getenv(maxConcurrencyKey))
	if err != nil || n <= 0 {
		return nil
	}
	return make(limit, n)
}

func (l limit) enter(method string) (func(), error) {
	if l == nil || !strings.HasPrefix(method, "/ia.plugin.v1.PluginService/") {
		return func() {}, nil
	}
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	default:
		return nil, failure(codes.ResourceExhausted, "TOO_MANY_CALLS", "",
			fmt.Sprintf("more than %d calls in flight (the plugin's max_concurrency)", cap(l)))
	}
}

func (l limit) unary(ctx context.Context, request any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	leave, err := l.enter(info.FullMethod)
	if err != nil {
		return nil, err
	}
	defer leave()
	return handler(ctx, request)
}

func (l limit) stream(server any, stream grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	leave, err := l.enter(info.FullMethod)
	if err != nil {
		return err
	}
	defer leave()
	return handler(server, stream)
}
