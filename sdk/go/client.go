// Package iamodules is the Go client of IA Modules: it registers pipelines, starts
// runs, waits for them, watches their events and answers human-input tasks, through
// the one front door (Envoy, IA_ENDPOINT, default localhost:8080).
//
//	client, err := iamodules.NewClient("")
//	if err != nil { ... }
//	defer client.Close()
//	run, err := client.StartRun(ctx, iamodules.RunRequest{Pipeline: "hello", Inputs: map[string]any{"who": "Go"}})
//	run, err = client.WaitRun(ctx, run.GetRunId())
//	fmt.Println(iamodules.FromStruct(run.GetOutputs()))
//
// Methods return the messages of the contracts (gen/ia/...), and every failed call
// returns an *Error with the gRPC code and the google.rpc details.
package iamodules

import (
	"context"
	"iter"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"

	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
	registryv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/registry/v1"
)

// DefaultEndpoint is where the client connects when neither the caller nor
// IA_ENDPOINT names an endpoint.
const DefaultEndpoint = "localhost:8080"

// DefaultTimeout is the deadline of each unary call whose context has none.
// Streams (WatchRun, WaitRun) have no default deadline: a run may take hours.
const DefaultTimeout = 30 * time.Second

// Client calls the registry and the executor through one endpoint. It is safe for
// concurrent use; Close it when done.
type Client struct {
	// Registry and Executor are the generated stubs, for calls this layer does not wrap.
	Registry registryv1.RegistryServiceClient
	Executor executorv1.ExecutorServiceClient

	conn     *grpc.ClientConn
	endpoint string
	timeout  time.Duration
}

type options struct {
	timeout     time.Duration
	credentials credentials.TransportCredentials
	token       string
	dial        []grpc.DialOption
	tls         *TLSFiles
}

// Option configures a Client.
type Option func(*options)

// WithTimeout sets the deadline of unary calls whose context has none.
func WithTimeout(timeout time.Duration) Option {
	return func(o *options) { o.timeout = timeout }
}

// WithTransportCredentials sets the transport credentials as given; the default
// is WithTLS, else TLS from IA_TLS_* when set, else plaintext.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return func(o *options) { o.credentials = creds }
}

// WithToken sends token (an API key or JWT) as `authorization: Bearer` on every
// call; without it the client sends IA_TOKEN when that is set.
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// bearer is a token as per-call credentials.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false: a local stack (and Envoy terminating TLS in
// front of it) is reached over plaintext.
func (bearer) RequireTransportSecurity() bool { return false }

// WithDialOptions adds gRPC dial options (interceptors, keepalive, ...).
func WithDialOptions(dial ...grpc.DialOption) Option {
	return func(o *options) { o.dial = append(o.dial, dial...) }
}

// ResolveEndpoint returns endpoint, else IA_ENDPOINT, else DefaultEndpoint.
func ResolveEndpoint(endpoint string) string {
	if endpoint != "" {
		return endpoint
	}
	if env := os.Getenv("IA_ENDPOINT"); env != "" {
		return env
	}
	return DefaultEndpoint
}

// NewClient creates a client for endpoint (host:port; "" means IA_ENDPOINT, then
// localhost:8080). It does not connect yet: the first call does, and fails with an
// *Error whose Unreachable is true if nothing answers there.
func NewClient(endpoint string, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout, token: os.Getenv("IA_TOKEN")}
	for _, opt := range opts {
		opt(&o)
	}
	endpoint = ResolveEndpoint(endpoint)
	transport, err := o.transportCredentials()
	if err != nil {
		return nil, &Error{Code: codes.InvalidArgument, Message: err.Error(), Endpoint: endpoint}
	}
	dial := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if o.token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer(o.token)))
	}
	dial = append(dial, o.dial...)
	conn, err := grpc.NewClient(endpoint, dial...)
	if err != nil {
		return nil, &Error{Message: err.Error(), Endpoint: endpoint, Unreachable: true}
	}
	return &Client{
		Registry: registryv1.NewRegistryServiceClient(conn),
		Executor: executorv1.NewExecutorServiceClient(conn),
		conn:     conn,
		endpoint: endpoint,
		timeout:  o.timeout,
	}, nil
}

// Endpoint is the address the client calls.
func (c *Client) Endpoint() string { return c.endpoint }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) wrap(err error) error {
	if err == nil {
		return nil
	}
	return newError(err, c.endpoint, c.conn.GetState() == connectivity.Ready)
}

// unary runs one call under the client's default deadline (unless ctx has one)
// and turns its failure into an *Error.
func unary[Req, Resp any](c *Client, ctx context.Context, method func(context.Context, Req, ...grpc.CallOption) (Resp, error), request Req) (Resp, error) {
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	response, err := method(ctx, request)
	if err != nil {
		var zero Resp
		return zero, c.wrap(err)
	}
	return response, nil
}

// pages yields every item of a paged List call, fetching the next page as the
// caller ranges on; an error ends the sequence.
func pages[Item any](ctx context.Context, fetch func(context.Context, string) ([]Item, string, error)) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		token := ""
		for {
			items, next, err := fetch(ctx, token)
			if err != nil {
				var zero Item
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			token = next
		}
	}
}
