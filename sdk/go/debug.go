package iamodules

import (
	"context"

	"google.golang.org/protobuf/types/known/structpb"

	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
)

// Breakpoint pauses a run before StepID runs: each time, or only when Condition
// (CEL over input, parameters, steps and run) is true.
type Breakpoint struct {
	StepID    string
	Condition string
}

// StepEdit says which paused step to let go on and what to change in its input
// first: the top-level fields of Inputs replace the input's (edit and continue,
// recorded as a StepInputEdited event). An empty StepID means the first paused step.
type StepEdit struct {
	StepID string
	Inputs map[string]any
}

// ResumeRun lets a paused run go on: every step it holds runs, and it pauses again
// only at a breakpoint. Fails with FAILED_PRECONDITION if the run is not paused.
func (c *Client) ResumeRun(ctx context.Context, runID string, edit StepEdit) (*executorv1.Run, error) {
	inputs, err := editInputs(c, edit)
	if err != nil {
		return nil, err
	}
	request := &executorv1.ResumeRunRequest{RunId: runID, Inputs: inputs, StepId: edit.StepID}
	response, err := unary(c, ctx, c.Executor.ResumeRun, request)
	return response.GetRun(), err
}

// StepRun runs exactly one paused step, then pauses again before the next step
// that is about to run. Fails like ResumeRun.
func (c *Client) StepRun(ctx context.Context, runID string, edit StepEdit) (*executorv1.Run, error) {
	inputs, err := editInputs(c, edit)
	if err != nil {
		return nil, err
	}
	request := &executorv1.StepRunRequest{RunId: runID, Inputs: inputs, StepId: edit.StepID}
	response, err := unary(c, ctx, c.Executor.StepRun, request)
	return response.GetRun(), err
}

// InspectRun returns what a run knows so far: the steps it holds paused with
// their resolved inputs, the outputs so far and every condition evaluated.
func (c *Client) InspectRun(ctx context.Context, runID string) (*executorv1.InspectRunResponse, error) {
	return unary(c, ctx, c.Executor.InspectRun, &executorv1.InspectRunRequest{RunId: runID})
}

func editInputs(c *Client, edit StepEdit) (*structpb.Struct, error) {
	if edit.Inputs == nil {
		return nil, nil
	}
	inputs, err := ToStruct(edit.Inputs)
	if err != nil {
		return nil, invalidArgument(c.endpoint, "inputs", err)
	}
	return inputs, nil
}

// startRunDebugging sets the breakpoints and mocks of a run request.
func startRunDebugging(c *Client, run RunRequest, request *executorv1.StartRunRequest) error {
	for _, point := range run.Breakpoints {
		request.Breakpoints = append(request.Breakpoints, &executorv1.Breakpoint{StepId: point.StepID, Condition: point.Condition})
	}
	if len(run.Mocks) == 0 {
		return nil
	}
	mocks, err := ToStruct(run.Mocks)
	if err != nil {
		return invalidArgument(c.endpoint, "mocks", err)
	}
	request.Mocks = mocks
	return nil
}
