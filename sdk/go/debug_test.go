package iamodules

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
)

// debuggingExecutor records the debugger requests it gets.
type debuggingExecutor struct {
	fakeExecutor
	started *executorv1.StartRunRequest
	resumed *executorv1.ResumeRunRequest
	stepped *executorv1.StepRunRequest
	paused  bool
}

func (d *debuggingExecutor) StartRun(_ context.Context, r *executorv1.StartRunRequest) (*executorv1.StartRunResponse, error) {
	d.started = r
	return &executorv1.StartRunResponse{Run: &executorv1.Run{RunId: "run-1", State: executorv1.RunState_RUN_STATE_PENDING}}, nil
}

func (d *debuggingExecutor) ResumeRun(_ context.Context, r *executorv1.ResumeRunRequest) (*executorv1.ResumeRunResponse, error) {
	if !d.paused {
		return nil, status.Error(codes.FailedPrecondition, "the run is not paused")
	}
	d.resumed = r
	return &executorv1.ResumeRunResponse{Run: &executorv1.Run{RunId: r.GetRunId(), State: executorv1.RunState_RUN_STATE_RUNNING}}, nil
}

func (d *debuggingExecutor) StepRun(_ context.Context, r *executorv1.StepRunRequest) (*executorv1.StepRunResponse, error) {
	d.stepped = r
	return &executorv1.StepRunResponse{Run: &executorv1.Run{RunId: r.GetRunId(), State: executorv1.RunState_RUN_STATE_RUNNING}}, nil
}

func (d *debuggingExecutor) InspectRun(_ context.Context, r *executorv1.InspectRunRequest) (*executorv1.InspectRunResponse, error) {
	input, _ := structpb.NewStruct(map[string]any{"message": "hi"})
	return &executorv1.InspectRunResponse{
		Run:    &executorv1.Run{RunId: r.GetRunId(), State: executorv1.RunState_RUN_STATE_PAUSED},
		Paused: []*executorv1.PausedStep{{StepId: "greet", Input: input, Reason: "breakpoint"}},
	}, nil
}

func TestStartRunSendsBreakpointsAndMocks(t *testing.T) {
	executor := &debuggingExecutor{}
	client := serve(t, executor)

	_, err := client.StartRun(context.Background(), RunRequest{
		Pipeline:    "hello",
		Breakpoints: []Breakpoint{{StepID: "greet"}, {StepID: "cheer", Condition: "input.times > 2"}},
		Mocks:       map[string]any{"sign": map[string]any{"signature": "mocked"}},
	})

	if err != nil {
		t.Fatal(err)
	}
	want := []*executorv1.Breakpoint{{StepId: "greet"}, {StepId: "cheer", Condition: "input.times > 2"}}
	if got := executor.started.GetBreakpoints(); len(got) != 2 || !proto.Equal(got[0], want[0]) || !proto.Equal(got[1], want[1]) {
		t.Fatalf("breakpoints sent %v", got)
	}
	if got := FromStruct(executor.started.GetMocks())["sign"]; got.(map[string]any)["signature"] != "mocked" {
		t.Fatalf("mocks sent %v", executor.started.GetMocks())
	}
}

func TestMocksThatAreNotJSONAreRefusedBeforeSending(t *testing.T) {
	executor := &debuggingExecutor{}
	client := serve(t, executor)

	_, err := client.StartRun(context.Background(), RunRequest{Pipeline: "p", Mocks: map[string]any{"a": make(chan int)}})

	e, _ := AsError(err)
	if e == nil || e.Code != codes.InvalidArgument || e.FieldViolations[0].Field != "mocks" || executor.started != nil {
		t.Fatalf("got %#v", err)
	}
}

func TestResumeAndStepSendTheEditOfThePausedStep(t *testing.T) {
	executor := &debuggingExecutor{paused: true}
	client := serve(t, executor)

	if _, err := client.StepRun(context.Background(), "run-1", StepEdit{}); err != nil {
		t.Fatal(err)
	}
	run, err := client.ResumeRun(context.Background(), "run-1", StepEdit{StepID: "cheer", Inputs: map[string]any{"times": 5}})

	if err != nil || run.GetState() != executorv1.RunState_RUN_STATE_RUNNING {
		t.Fatalf("run %v, error %v", run, err)
	}
	if executor.stepped.GetRunId() != "run-1" || executor.stepped.GetStepId() != "" || executor.stepped.GetInputs() != nil {
		t.Fatalf("step request %v", executor.stepped)
	}
	if executor.resumed.GetStepId() != "cheer" || FromStruct(executor.resumed.GetInputs())["times"] != 5.0 {
		t.Fatalf("resume request %v", executor.resumed)
	}
}

func TestResumingARunThatIsNotPausedFailsWithItsCode(t *testing.T) {
	executor := &debuggingExecutor{}
	client := serve(t, executor)

	_, err := client.ResumeRun(context.Background(), "run-1", StepEdit{})

	if e, _ := AsError(err); e == nil || e.Code != codes.FailedPrecondition {
		t.Fatalf("got %#v", err)
	}
}

func TestInspectRunReturnsThePausedStepsWithTheirInputs(t *testing.T) {
	executor := &debuggingExecutor{}
	client := serve(t, executor)

	inspection, err := client.InspectRun(context.Background(), "run-1")

	if err != nil {
		t.Fatal(err)
	}
	paused := inspection.GetPaused()
	if len(paused) != 1 || paused[0].GetStepId() != "greet" || FromStruct(paused[0].GetInput())["message"] != "hi" {
		t.Fatalf("paused %v", paused)
	}
}

func TestWaitRunReturnsWhenTheRunIsPaused(t *testing.T) {
	executor := &fakeExecutor{
		state:  executorv1.RunState_RUN_STATE_PAUSED,
		events: []*executorv1.RunEvent{stateEvent(1, executorv1.RunState_RUN_STATE_RUNNING), stateEvent(2, executorv1.RunState_RUN_STATE_PAUSED)},
	}
	client := serve(t, executor)

	run, err := client.WaitRun(context.Background(), "run-1")

	if err != nil || run.GetState() != executorv1.RunState_RUN_STATE_PAUSED {
		t.Fatalf("run %v, error %v", run, err)
	}
}

func TestWaitRunReadsPastAPauseThatIsHistory(t *testing.T) {
	executor := &fakeExecutor{
		state: executorv1.RunState_RUN_STATE_SUCCEEDED,
		events: []*executorv1.RunEvent{
			stateEvent(1, executorv1.RunState_RUN_STATE_PAUSED), stateEvent(2, executorv1.RunState_RUN_STATE_RUNNING),
			stateEvent(3, executorv1.RunState_RUN_STATE_SUCCEEDED),
		},
	}
	client := serve(t, executor)
	var seen []int64

	run, err := client.WaitRun(context.Background(), "run-1", func(e *executorv1.RunEvent) { seen = append(seen, e.GetSequence()) })

	if err != nil || run.GetState() != executorv1.RunState_RUN_STATE_SUCCEEDED || len(seen) != 3 {
		t.Fatalf("run %v, error %v, events seen %v", run, err, seen)
	}
}
