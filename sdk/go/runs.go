package iamodules

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"google.golang.org/grpc/codes"

	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
	pipelinev1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/pipeline/v1"
)

// RunRequest says what to run: a registered Pipeline (by name, at Revision, 0 for
// the latest) or an inline Definition, with its inputs.
type RunRequest struct {
	Pipeline   string
	Definition *pipelinev1.Pipeline
	Revision   int64
	Inputs     map[string]any
	// RequestID makes the start idempotent: the same id returns the same run.
	RequestID string
	// Breakpoints pause the run before these steps (see ResumeRun, StepRun, InspectRun).
	Breakpoints []Breakpoint
	// Mocks are canned outputs by step id: a mocked step completes with its mock
	// (an object) and is never dispatched.
	Mocks map[string]any
}

// FinalRunStates are the states a run never leaves.
var FinalRunStates = map[executorv1.RunState]bool{
	executorv1.RunState_RUN_STATE_SUCCEEDED: true,
	executorv1.RunState_RUN_STATE_FAILED:    true,
	executorv1.RunState_RUN_STATE_CANCELLED: true,
	executorv1.RunState_RUN_STATE_TIMED_OUT: true,
}

// StartRun starts a run and returns it as it is right after starting.
func (c *Client) StartRun(ctx context.Context, run RunRequest) (*executorv1.Run, error) {
	inputs, err := ToStruct(run.Inputs)
	if err != nil {
		return nil, invalidArgument(c.endpoint, "inputs", err)
	}
	request := &executorv1.StartRunRequest{Revision: run.Revision, Inputs: inputs, RequestId: run.RequestID}
	if err := startRunDebugging(c, run, request); err != nil {
		return nil, err
	}
	if run.Definition != nil {
		request.Pipeline = &executorv1.StartRunRequest_Definition{Definition: run.Definition}
	} else {
		request.Pipeline = &executorv1.StartRunRequest_PipelineName{PipelineName: run.Pipeline}
	}
	response, err := unary(c, ctx, c.Executor.StartRun, request)
	return response.GetRun(), err
}

// GetRun returns a run with the state of each step.
func (c *Client) GetRun(ctx context.Context, runID string) (*executorv1.Run, error) {
	response, err := unary(c, ctx, c.Executor.GetRun, &executorv1.GetRunRequest{RunId: runID})
	return response.GetRun(), err
}

// CancelRun cancels a run and whatever it has in flight.
func (c *Client) CancelRun(ctx context.Context, runID, reason string) (*executorv1.Run, error) {
	response, err := unary(c, ctx, c.Executor.CancelRun, &executorv1.CancelRunRequest{RunId: runID, Reason: reason})
	return response.GetRun(), err
}

// RunFilter narrows ListRuns.
type RunFilter struct {
	Pipeline string
	// States keeps runs in one of these states; empty keeps all.
	States   []executorv1.RunState
	PageSize int32
}

// ListRuns yields runs, newest first, without step details, fetching pages as the
// caller ranges on.
func (c *Client) ListRuns(ctx context.Context, filter RunFilter) iter.Seq2[*executorv1.Run, error] {
	return pages(ctx, func(ctx context.Context, token string) ([]*executorv1.Run, string, error) {
		request := &executorv1.ListRunsRequest{PipelineName: filter.Pipeline, States: filter.States, PageSize: filter.PageSize, PageToken: token}
		response, err := unary(c, ctx, c.Executor.ListRuns, request)
		return response.GetRuns(), response.GetNextPageToken(), err
	})
}

// ReconnectAttempts is how often WatchRun reopens a broken stream before giving
// up; enough to ride out an executor restart.
const ReconnectAttempts = 8

// WatchRun yields the run's events with a sequence number above fromSequence,
// then live ones until the run ends. A stream that breaks with UNAVAILABLE after
// delivering events is reopened from the last sequence seen, so no event is lost
// or repeated. Stop ranging (or cancel ctx) to hang up.
func (c *Client) WatchRun(ctx context.Context, runID string, fromSequence int64) iter.Seq2[*executorv1.RunEvent, error] {
	return func(yield func(*executorv1.RunEvent, error) bool) {
		last, failures := fromSequence, 0
		for {
			err := c.watchOnce(ctx, runID, &last, &failures, yield)
			if err == nil {
				return
			}
			if errors.Is(err, errStopped) {
				return
			}
			var e *Error
			resumable := errors.As(err, &e) && e.Code == codes.Unavailable && last > fromSequence
			if !resumable || failures >= ReconnectAttempts {
				yield(nil, err)
				return
			}
			failures++
			select {
			case <-ctx.Done():
				yield(nil, c.wrap(ctx.Err()))
				return
			case <-time.After(reconnectDelay(failures)):
			}
		}
	}
}

var errStopped = errors.New("the caller stopped ranging")

// watchOnce reads one WatchRun stream to its end; it returns nil when the run
// ended, errStopped when the caller broke off, or the stream's error.
func (c *Client) watchOnce(ctx context.Context, runID string, last *int64, failures *int, yield func(*executorv1.RunEvent, error) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Executor.WatchRun(ctx, &executorv1.WatchRunRequest{RunId: runID, FromSequence: *last, Batch: true})
	if err != nil {
		return c.wrap(err)
	}
	for {
		response, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return c.wrap(err)
		}
		for _, event := range responseEvents(response) {
			*last, *failures = event.GetSequence(), 0
			if !yield(event, nil) {
				return errStopped
			}
		}
	}
}

// responseEvents are the events of a WatchRun response: several when batched,
// else the one (a server that predates batching always sends one).
func responseEvents(response *executorv1.WatchRunResponse) []*executorv1.RunEvent {
	if events := response.GetEvents(); len(events) > 0 {
		return events
	}
	return []*executorv1.RunEvent{response.GetEvent()}
}

func reconnectDelay(failures int) time.Duration {
	delay := 200 * time.Millisecond << (failures - 1)
	return min(delay, 2*time.Second)
}

// WaitRun watches a run until it ends, waits for a person's input or is paused
// (at a breakpoint, or after StepRun), and returns it as GetRun does then. Each onEvent function sees every event on the way.
func (c *Client) WaitRun(ctx context.Context, runID string, onEvent ...func(*executorv1.RunEvent)) (*executorv1.Run, error) {
	for event, err := range c.WatchRun(ctx, runID, 0) {
		if err != nil {
			return nil, err
		}
		for _, see := range onEvent {
			see(event)
		}
		state := event.GetRunStateChanged().GetState()
		if FinalRunStates[state] {
			break
		}
		if state == executorv1.RunState_RUN_STATE_WAITING_FOR_INPUT {
			waiting, err := c.waitsForInput(ctx, runID)
			if err != nil {
				return nil, err
			}
			if waiting {
				break
			}
		}
		if state == executorv1.RunState_RUN_STATE_PAUSED {
			paused, err := c.isPaused(ctx, runID)
			if err != nil {
				return nil, err
			}
			if paused {
				break
			}
		}
	}
	return c.GetRun(ctx, runID)
}

// waitsForInput tells whether a run still waits: a replayed WAITING_FOR_INPUT
// event may be history.
func (c *Client) waitsForInput(ctx context.Context, runID string) (bool, error) {
	run, err := c.GetRun(ctx, runID)
	if err != nil || run.GetState() != executorv1.RunState_RUN_STATE_WAITING_FOR_INPUT {
		return false, err
	}
	for _, err := range c.ListHumanTasks(ctx, TaskFilter{RunID: runID, PageSize: 1}) {
		return err == nil, err
	}
	return false, nil
}

// isPaused tells whether a run is still paused: a replayed PAUSED event may be
// history.
func (c *Client) isPaused(ctx context.Context, runID string) (bool, error) {
	run, err := c.GetRun(ctx, runID)
	return run.GetState() == executorv1.RunState_RUN_STATE_PAUSED, err
}
