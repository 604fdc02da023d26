package iamodules

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
	registryv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/registry/v1"
)

// fakeExecutor serves a scripted run: its events, its state, its tasks.
type fakeExecutor struct {
	executorv1.UnimplementedExecutorServiceServer
	mu         sync.Mutex
	events     []*executorv1.RunEvent
	state      executorv1.RunState
	tasks      []*executorv1.HumanTask
	runs       []*executorv1.Run
	breakAfter int // the first WatchRun stream fails with UNAVAILABLE after this many events
	batchSize  int // when above 0, WatchRun answers a batching request with this many events a message
	batched    []bool
	watches    []int64
	deadlines  []bool
	tokens     []string // the authorization metadata of each GetRun
}

func (f *fakeExecutor) GetRun(ctx context.Context, r *executorv1.GetRunRequest) (*executorv1.GetRunResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, hasDeadline := ctx.Deadline()
	f.deadlines = append(f.deadlines, hasDeadline)
	incoming, _ := metadata.FromIncomingContext(ctx)
	f.tokens = append(f.tokens, strings.Join(incoming.Get("authorization"), ","))
	if r.GetRunId() != "run-1" {
		st, _ := status.New(codes.NotFound, "run does not exist").WithDetails(
			&errdetails.ErrorInfo{Reason: "RUN_NOT_FOUND", Domain: "ia-modules", Metadata: map[string]string{"run_id": r.GetRunId()}})
		return nil, st.Err()
	}
	return &executorv1.GetRunResponse{Run: &executorv1.Run{RunId: "run-1", State: f.state}}, nil
}

func (f *fakeExecutor) SubmitHumanInput(context.Context, *executorv1.SubmitHumanInputRequest) (*executorv1.SubmitHumanInputResponse, error) {
	st, _ := status.New(codes.InvalidArgument, "the answer does not match").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_INPUT"},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "data.approved", Description: "not a boolean"}}})
	return nil, st.Err()
}

func (f *fakeExecutor) ListHumanTasks(context.Context, *executorv1.ListHumanTasksRequest) (*executorv1.ListHumanTasksResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &executorv1.ListHumanTasksResponse{Tasks: f.tasks}, nil
}

func (f *fakeExecutor) ListRuns(_ context.Context, r *executorv1.ListRunsRequest) (*executorv1.ListRunsResponse, error) {
	start := 0
	if r.GetPageToken() != "" {
		start = int(r.GetPageToken()[0] - '0')
	}
	end := min(start+int(r.GetPageSize()), len(f.runs))
	next := ""
	if end < len(f.runs) {
		next = string(rune('0' + end))
	}
	return &executorv1.ListRunsResponse{Runs: f.runs[start:end], NextPageToken: next}, nil
}

func (f *fakeExecutor) WatchRun(r *executorv1.WatchRunRequest, stream executorv1.ExecutorService_WatchRunServer) error {
	f.mu.Lock()
	f.watches = append(f.watches, r.GetFromSequence())
	f.batched = append(f.batched, r.GetBatch())
	first := len(f.watches) == 1
	f.mu.Unlock()
	if f.batchSize > 0 && r.GetBatch() {
		for start := 0; start < len(f.events); start += f.batchSize {
			group := f.events[start:min(start+f.batchSize, len(f.events))]
			if err := stream.Send(&executorv1.WatchRunResponse{Events: group}); err != nil {
				return err
			}
		}
		return nil
	}
	sent := 0
	for _, event := range f.events {
		if event.GetSequence() <= r.GetFromSequence() {
			continue
		}
		if first && f.breakAfter > 0 && sent == f.breakAfter {
			return status.Error(codes.Unavailable, "executor restarting")
		}
		if err := stream.Send(&executorv1.WatchRunResponse{Event: event}); err != nil {
			return err
		}
		sent++
	}
	return nil
}

func stateEvent(sequence int64, state executorv1.RunState) *executorv1.RunEvent {
	return &executorv1.RunEvent{Sequence: sequence, Kind: &executorv1.RunEvent_RunStateChanged{RunStateChanged: &executorv1.RunStateChanged{State: state}}}
}

type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer
}

func (fakeRegistry) GetPipeline(_ context.Context, r *registryv1.GetPipelineRequest) (*registryv1.GetPipelineResponse, error) {
	return &registryv1.GetPipelineResponse{Pipeline: &registryv1.PipelineVersion{Name: r.GetName(), Revision: 1}}, nil
}

// serve starts the fakes in-process and returns a client of them.
func serve(t *testing.T, executor executorv1.ExecutorServiceServer, opts ...Option) *Client {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	executorv1.RegisterExecutorServiceServer(server, executor)
	registryv1.RegisterRegistryServiceServer(server, fakeRegistry{})
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) })
	opts = append([]Option{WithDialOptions(dialer), WithTransportCredentials(insecure.NewCredentials())}, opts...)
	client, err := NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestNotFoundCarriesItsReasonAndMetadata(t *testing.T) {
	client := serve(t, &fakeExecutor{})

	_, err := client.GetRun(context.Background(), "nope")

	e, ok := AsError(err)
	if !ok || e.Code != codes.NotFound || e.Reason != "RUN_NOT_FOUND" || e.Metadata["run_id"] != "nope" || e.Unreachable {
		t.Fatalf("got %#v", err)
	}
	if status.Code(err) != codes.NotFound {
		t.Fatalf("status.Code sees %v", status.Code(err))
	}
	if want := "NOT_FOUND: run does not exist [RUN_NOT_FOUND]"; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
}

func TestInvalidInputCarriesItsFieldViolations(t *testing.T) {
	client := serve(t, &fakeExecutor{})

	_, err := client.SubmitHumanInput(context.Background(), "task-1", map[string]any{"approved": "yes"}, "")

	e, _ := AsError(err)
	if e == nil || e.Code != codes.InvalidArgument || len(e.FieldViolations) != 1 || e.FieldViolations[0].Field != "data.approved" {
		t.Fatalf("got %#v", err)
	}
	if !strings.Contains(err.Error(), "\n  data.approved: not a boolean") {
		t.Fatalf("message %q lacks the field violation", err.Error())
	}
}

func TestInputsThatAreNotJSONAreRefusedBeforeSending(t *testing.T) {
	client := serve(t, &fakeExecutor{})

	_, err := client.StartRun(context.Background(), RunRequest{Pipeline: "p", Inputs: map[string]any{"when": time.Now()}})

	e, _ := AsError(err)
	if e == nil || e.Code != codes.InvalidArgument || e.FieldViolations[0].Field != "inputs" {
		t.Fatalf("got %#v", err)
	}
}

func TestAnEndpointWhereNothingListensIsUnreachable(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	_ = listener.Close()
	client, err := NewClient(address, WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	_, err = client.GetPipeline(context.Background(), "p", 0)

	e, _ := AsError(err)
	if e == nil || !e.Unreachable || e.Code != codes.Unavailable {
		t.Fatalf("got %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "cannot reach the IA Modules endpoint at "+address) {
		t.Fatalf("message %q", err.Error())
	}
}

func TestUnaryCallsGetTheDefaultDeadline(t *testing.T) {
	executor := &fakeExecutor{state: executorv1.RunState_RUN_STATE_RUNNING}
	client := serve(t, executor)

	if _, err := client.GetRun(context.Background(), "run-1"); err != nil {
		t.Fatal(err)
	}

	if len(executor.deadlines) != 1 || !executor.deadlines[0] {
		t.Fatalf("deadlines seen by the server: %v", executor.deadlines)
	}
}

func TestTheTokenComesFromTheOptionElseIAToken(t *testing.T) {
	t.Setenv("IA_TOKEN", "from-env")
	for _, c := range []struct {
		opts []Option
		want string
	}{{nil, "Bearer from-env"}, {[]Option{WithToken("iak_given")}, "Bearer iak_given"}} {
		executor := &fakeExecutor{state: executorv1.RunState_RUN_STATE_RUNNING}
		client := serve(t, executor, c.opts...)
		if _, err := client.GetRun(context.Background(), "run-1"); err != nil {
			t.Fatal(err)
		}
		if len(executor.tokens) != 1 || executor.tokens[0] != c.want {
			t.Fatalf("authorization seen by the server: %v, want %q", executor.tokens, c.want)
		}
	}
	t.Setenv("IA_TOKEN", "")
	executor := &fakeExecutor{state: executorv1.RunState_RUN_STATE_RUNNING}
	if _, err := serve(t, executor).GetRun(context.Background(), "run-1"); err != nil || executor.tokens[0] != "" {
		t.Fatalf("without a token nothing is sent: %v %v", executor.tokens, err)
	}
}

func TestWatchRunReconnectsFromTheLastSequenceAfterUnavailable(t *testing.T) {
	executor := &fakeExecutor{breakAfter: 2}
	for i := int64(1); i <= 4; i++ {
		executor.events = append(executor.events, stateEvent(i, executorv1.RunState_RUN_STATE_RUNNING))
	}
	client := serve(t, executor)

	var sequences []int64
	for event, err := range client.WatchRun(context.Background(), "run-1", 0) {
		if err != nil {
			t.Fatal(err)
		}
		sequences = append(sequences, event.GetSequence())
	}

	if got := sequences; len(got) != 4 || got[0] != 1 || got[3] != 4 {
		t.Fatalf("sequences %v, want 1..4", got)
	}
	if len(executor.watches) != 2 || executor.watches[1] != 2 {
		t.Fatalf("streams opened from %v, want [0 2]", executor.watches)
	}
}

func TestWatchRunAsksForBatchesAndYieldsTheirEventsOneByOne(t *testing.T) {
	executor := &fakeExecutor{batchSize: 2}
	for i := int64(1); i <= 5; i++ {
		executor.events = append(executor.events, stateEvent(i, executorv1.RunState_RUN_STATE_RUNNING))
	}
	client := serve(t, executor)

	var sequences []int64
	for event, err := range client.WatchRun(context.Background(), "run-1", 0) {
		if err != nil {
			t.Fatal(err)
		}
		sequences = append(sequences, event.GetSequence())
	}

	if fmt.Sprint(sequences) != "[1 2 3 4 5]" || !executor.batched[0] {
		t.Fatalf("sequences %v (batch requested: %v), want [1 2 3 4 5]", sequences, executor.batched)
	}
}

func TestWatchRunStopsWhenTheCallerBreaks(t *testing.T) {
	executor := &fakeExecutor{}
	for i := int64(1); i <= 3; i++ {
		executor.events = append(executor.events, stateEvent(i, executorv1.RunState_RUN_STATE_RUNNING))
	}
	client := serve(t, executor)

	count := 0
	for _, err := range client.WatchRun(context.Background(), "run-1", 0) {
		if err != nil {
			t.Fatal(err)
		}
		count++
		break
	}

	if count != 1 {
		t.Fatalf("read %d events after breaking", count)
	}
}

func TestWaitRunReturnsWhenTheRunWaitsForAPerson(t *testing.T) {
	executor := &fakeExecutor{
		state:  executorv1.RunState_RUN_STATE_WAITING_FOR_INPUT,
		tasks:  []*executorv1.HumanTask{{TaskId: "task-1"}},
		events: []*executorv1.RunEvent{stateEvent(1, executorv1.RunState_RUN_STATE_RUNNING), stateEvent(2, executorv1.RunState_RUN_STATE_WAITING_FOR_INPUT)},
	}
	client := serve(t, executor)
	var seen []int64

	run, err := client.WaitRun(context.Background(), "run-1", func(e *executorv1.RunEvent) { seen = append(seen, e.GetSequence()) })

	if err != nil || run.GetState() != executorv1.RunState_RUN_STATE_WAITING_FOR_INPUT {
		t.Fatalf("run %v, error %v", run, err)
	}
	if len(seen) != 2 {
		t.Fatalf("events seen %v", seen)
	}
}

func TestListRunsFetchesEveryPage(t *testing.T) {
	executor := &fakeExecutor{}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		executor.runs = append(executor.runs, &executorv1.Run{RunId: id})
	}
	client := serve(t, executor)

	var ids []string
	for run, err := range client.ListRuns(context.Background(), RunFilter{PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.GetRunId())
	}

	if strings.Join(ids, "") != "abcde" {
		t.Fatalf("listed %v", ids)
	}
}

func TestPipelineFromJSONNamesWhatIsWrong(t *testing.T) {
	pipeline, err := PipelineFromJSON([]byte(`{"name": "p", "steps": [{"id": "a", "type": "pass"}]}`))
	if err != nil || pipeline.GetSteps()[0].GetId() != "a" {
		t.Fatalf("pipeline %v, error %v", pipeline, err)
	}

	_, err = PipelineFromJSON([]byte(`{"name": "p", "stepz": []}`))

	if err == nil || !strings.Contains(err.Error(), "stepz") {
		t.Fatalf("error %v", err)
	}
}

func TestEndpointComesFromTheEnvironmentWhenNotGiven(t *testing.T) {
	t.Setenv("IA_ENDPOINT", "example.test:1234")

	if got := ResolveEndpoint(""); got != "example.test:1234" {
		t.Fatalf("got %q", got)
	}
	if got := ResolveEndpoint("other:1"); got != "other:1" {
		t.Fatalf("got %q", got)
	}
	t.Setenv("IA_ENDPOINT", "")
	if got := ResolveEndpoint(""); got != DefaultEndpoint {
		t.Fatalf("got %q", got)
	}
}

func TestCodeNamesAreUpperSnake(t *testing.T) {
	if got := codeName(codes.FailedPrecondition); got != "FAILED_PRECONDITION" {
		t.Fatalf("got %q", got)
	}
}
