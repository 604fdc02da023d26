package iamodules

import (
	"context"
	"iter"

	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
)

// TaskFilter narrows ListHumanTasks.
type TaskFilter struct {
	RunID string
	// States keeps tasks in one of these states; empty keeps OPEN ones.
	States   []executorv1.HumanTaskState
	PageSize int32
}

// ListHumanTasks yields human-input tasks, OPEN ones unless filter.States says
// otherwise, fetching pages as the caller ranges on.
func (c *Client) ListHumanTasks(ctx context.Context, filter TaskFilter) iter.Seq2[*executorv1.HumanTask, error] {
	return pages(ctx, func(ctx context.Context, token string) ([]*executorv1.HumanTask, string, error) {
		request := &executorv1.ListHumanTasksRequest{RunId: filter.RunID, States: filter.States, PageSize: filter.PageSize, PageToken: token}
		response, err := unary(c, ctx, c.Executor.ListHumanTasks, request)
		return response.GetTasks(), response.GetNextPageToken(), err
	})
}

// SubmitHumanInput answers a task, which resumes its run. An answer that does not
// match the task's ui_schema fails with INVALID_ARGUMENT, one field violation per
// problem, and the task stays open.
func (c *Client) SubmitHumanInput(ctx context.Context, taskID string, data map[string]any, submitter string) (*executorv1.HumanTask, error) {
	answer, err := ToStruct(data)
	if err != nil {
		return nil, invalidArgument(c.endpoint, "data", err)
	}
	request := &executorv1.SubmitHumanInputRequest{TaskId: taskID, Data: answer, Submitter: submitter}
	response, err := unary(c, ctx, c.Executor.SubmitHumanInput, request)
	return response.GetTask(), err
}
