// Command conformance runs tests/conformance/scenarios.json with the Go SDK. It
// prints one JSON line per scenario, then `go: N passed, N failed`, and exits 1
// if any failed.
//
//	go run . -endpoint 127.0.0.1:8080 -namespace go-1
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	iamodules "github.com/ia-modules/ia-modules/sdk/go"
	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	pipelinev1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/pipeline/v1"
)

type outcome struct {
	Runner   string  `json:"runner"`
	Scenario string  `json:"scenario"`
	Passed   bool    `json:"passed"`
	Error    *string `json:"error"`
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	endpoint := flag.String("endpoint", "", "Envoy's front door, host:port")
	namespace := flag.String("namespace", "", "prefix of every pipeline name this run creates")
	scenarios := flag.String("scenarios", "../scenarios.json", "the scenario file")
	var only stringList
	flag.Var(&only, "only", "run only this scenario (repeatable)")
	flag.Parse()
	if *endpoint == "" || *namespace == "" {
		fmt.Fprintln(os.Stderr, "-endpoint and -namespace are required")
		os.Exit(2)
	}
	doc, err := loadDocument(*scenarios, *namespace)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	client, err := iamodules.NewClient(*endpoint)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer client.Close()
	d := &driver{client: client}

	passed, failed := 0, 0
	for _, spec := range doc.Scenarios {
		if len(only) > 0 && !strings.Contains(","+only.String()+",", ","+spec.Name+",") {
			continue
		}
		s := &scenario{spec: spec, pipelines: doc.Pipelines, handlers: d.handlers(), saved: map[string]any{}}
		result := outcome{Runner: "go", Scenario: spec.Name, Passed: true}
		if err := s.run(); err != nil {
			text := err.Error()
			result.Passed, result.Error = false, &text
			failed++
		} else {
			passed++
		}
		line, _ := json.Marshal(result)
		fmt.Println(string(line))
	}
	fmt.Printf("go: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// driver runs each step kind through the Go SDK.
type driver struct {
	client *iamodules.Client
}

func (d *driver) handlers() map[string]handler {
	return map[string]handler{
		"create_pipeline": d.createPipeline,
		"get_pipeline":    d.getPipeline,
		"list_pipelines":  d.listPipelines,
		"delete_pipeline": d.deletePipeline,
		"start_run":       d.startRun,
		"wait_run":        d.waitRun,
		"get_run":         d.getRun,
		"cancel_run":      d.cancelRun,
		"watch_run":       d.watchRun,
		"list_runs":       d.listRuns,
		"find_task":       d.findTask,
		"submit_input":    d.submitInput,
		"unreachable":     d.unreachable,
		"inspect_run":     d.inspectRun,
		"step_run":        d.stepRun,
		"resume_run":      d.resumeRun,
	}
}

// failed normalizes an SDK error for the scenario's expect_error.
func failed(err error) error {
	e, ok := iamodules.AsError(err)
	if !ok {
		return err
	}
	fields := []string{}
	for _, v := range e.FieldViolations {
		fields = append(fields, v.Field)
	}
	code := strings.ToUpper(strings.Join(splitCamel(e.Code.String()), "_"))
	return &callFailed{Code: code, Message: e.Error(), Reason: e.Reason, Metadata: e.Metadata, Fields: fields, Unreachable: e.Unreachable}
}

func splitCamel(name string) []string {
	var words []string
	start := 0
	for i := 1; i < len(name); i++ {
		if name[i] >= 'A' && name[i] <= 'Z' {
			words = append(words, name[start:i])
			start = i
		}
	}
	return append(words, name[start:])
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

func trim(name, prefix string) string { return strings.TrimPrefix(name, prefix) }

func runResult(run *executorv1.Run) map[string]any {
	steps := map[string]any{}
	for _, s := range run.GetSteps() {
		steps[s.GetStepId()] = trim(s.GetState().String(), "STEP_STATE_")
	}
	return map[string]any{
		"state":   trim(run.GetState().String(), "RUN_STATE_"),
		"outputs": iamodules.FromStruct(run.GetOutputs()),
		"steps":   steps,
	}
}

func str(step map[string]any, key string) string {
	value, _ := step[key].(string)
	return value
}

func number(step map[string]any, key string) int64 {
	value, _ := step[key].(float64)
	return int64(value)
}

func object(step map[string]any, key string) map[string]any {
	value, _ := step[key].(map[string]any)
	return value
}

func (d *driver) createPipeline(step map[string]any) (map[string]any, any, error) {
	raw, _ := json.Marshal(step["definition"])
	pipeline := &pipelinev1.Pipeline{}
	if err := protojson.Unmarshal(raw, pipeline); err != nil {
		return nil, nil, err
	}
	c, cancel := ctx()
	defer cancel()
	created, err := d.client.CreatePipeline(c, pipeline, "")
	if err != nil {
		return nil, nil, failed(err)
	}
	return map[string]any{"revision": created.GetPipeline().GetRevision()}, created.GetPipeline().GetName(), nil
}

func (d *driver) getPipeline(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	version, err := d.client.GetPipeline(c, str(step, "name"), number(step, "revision"))
	if err != nil {
		return nil, nil, failed(err)
	}
	ids := []string{}
	for _, s := range version.GetDefinition().GetSteps() {
		ids = append(ids, s.GetId())
	}
	return map[string]any{"revision": version.GetRevision(), "step_ids": ids}, version.GetName(), nil
}

func (d *driver) listPipelines(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	names := []string{}
	filter := iamodules.PipelineFilter{NamePrefix: str(step, "prefix"), PageSize: int32(number(step, "page_size"))}
	for version, err := range d.client.ListPipelines(c, filter) {
		if err != nil {
			return nil, nil, failed(err)
		}
		names = append(names, version.GetName())
	}
	return map[string]any{"names": names}, names, nil
}

func (d *driver) deletePipeline(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	deleted, err := d.client.DeletePipeline(c, str(step, "name"), "")
	if err != nil {
		return nil, nil, failed(err)
	}
	return map[string]any{"deleted_revisions": deleted}, nil, nil
}

func (d *driver) startRun(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	count := max(number(step, "count"), 1)
	ids := []string{}
	for range count {
		run, err := d.client.StartRun(c, iamodules.RunRequest{Pipeline: str(step, "pipeline"), Inputs: object(step, "inputs"), Breakpoints: breakpoints(step)})
		if err != nil {
			return nil, nil, failed(err)
		}
		ids = append(ids, run.GetRunId())
	}
	if _, many := step["count"]; many {
		return map[string]any{"run_ids": ids}, ids, nil
	}
	return map[string]any{"run_ids": ids}, ids[0], nil
}

func (d *driver) waitRun(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	run, err := d.client.WaitRun(c, str(step, "run"))
	if err != nil {
		return nil, nil, failed(err)
	}
	return runResult(run), run.GetRunId(), nil
}

func (d *driver) getRun(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	run, err := d.client.GetRun(c, str(step, "run"))
	if err != nil {
		return nil, nil, failed(err)
	}
	return runResult(run), run.GetRunId(), nil
}

func (d *driver) cancelRun(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	run, err := d.client.CancelRun(c, str(step, "run"), str(step, "reason"))
	if err != nil {
		return nil, nil, failed(err)
	}
	return runResult(run), run.GetRunId(), nil
}

func breakpoints(step map[string]any) []iamodules.Breakpoint {
	points := []iamodules.Breakpoint{}
	list, _ := step["breakpoints"].([]any)
	for _, id := range list {
		points = append(points, iamodules.Breakpoint{StepID: fmt.Sprint(id)})
	}
	return points
}

func (d *driver) inspectRun(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	inspection, err := d.client.InspectRun(c, str(step, "run"))
	if err != nil {
		return nil, nil, failed(err)
	}
	paused, inputs := []string{}, map[string]any{}
	for _, p := range inspection.GetPaused() {
		paused = append(paused, p.GetStepId())
		inputs[p.GetStepId()] = iamodules.FromStruct(p.GetInput())
	}
	sort.Strings(paused)
	result := map[string]any{
		"state":   trim(inspection.GetRun().GetState().String(), "RUN_STATE_"),
		"paused":  paused,
		"inputs":  inputs,
		"outputs": iamodules.FromStruct(inspection.GetOutputs()),
	}
	return result, inspection.GetRun().GetRunId(), nil
}

func (d *driver) stepRun(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	run, err := d.client.StepRun(c, str(step, "run"), iamodules.StepEdit{StepID: str(step, "step_id"), Inputs: object(step, "inputs")})
	if err != nil {
		return nil, nil, failed(err)
	}
	return runResult(run), run.GetRunId(), nil
}

func (d *driver) resumeRun(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	run, err := d.client.ResumeRun(c, str(step, "run"), iamodules.StepEdit{StepID: str(step, "step_id"), Inputs: object(step, "inputs")})
	if err != nil {
		return nil, nil, failed(err)
	}
	return runResult(run), run.GetRunId(), nil
}

// eventKind is the oneof field name of RunEvent.kind, as the scenario file writes it.
func eventKind(event *executorv1.RunEvent) string {
	return string(event.ProtoReflect().WhichOneof(event.ProtoReflect().Descriptor().Oneofs().ByName("kind")).Name())
}

func (d *driver) watchRun(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	from, until := number(step, "from_sequence"), str(step, "until")
	events := []any{}
	var outputs any
	var finalState any
	found := false
	for event, err := range d.client.WatchRun(c, str(step, "run"), from) {
		if err != nil {
			return nil, nil, failed(err)
		}
		kind := eventKind(event)
		events = append(events, []any{event.GetSequence(), kind})
		switch kind {
		case "outputs":
			outputs = iamodules.FromStruct(event.GetOutputs().GetOutputs())
		case "run_state_changed":
			finalState = trim(event.GetRunStateChanged().GetState().String(), "RUN_STATE_")
		}
		if kind == until {
			found = true
			break
		}
	}
	if until != "end" && !found {
		return nil, nil, fmt.Errorf("the stream ended without a %s event: %s", until, show(events))
	}
	last := from
	var first any
	if len(events) > 0 {
		first = events[0].([]any)[0]
		last = events[len(events)-1].([]any)[0].(int64)
	}
	result := map[string]any{"first_sequence": first, "final_state": finalState, "outputs": outputs, "last": last}
	return result, map[string]any{"events": events, "last": last}, nil
}

func (d *driver) listRuns(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	size := int32(number(step, "page_size"))
	request := &executorv1.ListRunsRequest{PipelineName: str(step, "pipeline"), PageSize: size}
	// The raw stub counts the pages; the SDK's iterator hides them.
	paged, pages := []string{}, 0
	for {
		page, err := d.client.Executor.ListRuns(c, request)
		if err != nil {
			return nil, nil, failed(err)
		}
		pages++
		if len(page.GetRuns()) > int(size) {
			return nil, nil, fmt.Errorf("a page of %d runs, over page_size %d", len(page.GetRuns()), size)
		}
		for _, run := range page.GetRuns() {
			paged = append(paged, run.GetRunId())
		}
		if page.GetNextPageToken() == "" {
			break
		}
		request.PageToken = page.GetNextPageToken()
	}
	listed := []string{}
	for run, err := range d.client.ListRuns(c, iamodules.RunFilter{Pipeline: str(step, "pipeline"), PageSize: size}) {
		if err != nil {
			return nil, nil, failed(err)
		}
		listed = append(listed, run.GetRunId())
	}
	if show(listed) != show(paged) {
		return nil, nil, fmt.Errorf("the SDK listed %v, the pages held %v", listed, paged)
	}
	return map[string]any{"run_ids": listed, "pages": pages}, listed, nil
}

func (d *driver) findTask(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	var tasks []*executorv1.HumanTask
	for task, err := range d.client.ListHumanTasks(c, iamodules.TaskFilter{RunID: str(step, "run")}) {
		if err != nil {
			return nil, nil, failed(err)
		}
		tasks = append(tasks, task)
	}
	result := map[string]any{"count": len(tasks)}
	if len(tasks) == 0 {
		return result, nil, nil
	}
	task := tasks[0]
	result["step_id"] = task.GetStepId()
	result["state"] = trim(task.GetState().String(), "HUMAN_TASK_STATE_")
	result["data"] = iamodules.FromStruct(task.GetData())
	return result, task.GetTaskId(), nil
}

func (d *driver) submitInput(step map[string]any) (map[string]any, any, error) {
	c, cancel := ctx()
	defer cancel()
	task, err := d.client.SubmitHumanInput(c, str(step, "task"), object(step, "data"), "conformance")
	if err != nil {
		return nil, nil, failed(err)
	}
	return map[string]any{"state": trim(task.GetState().String(), "HUMAN_TASK_STATE_")}, task.GetTaskId(), nil
}

func (d *driver) unreachable(step map[string]any) (map[string]any, any, error) {
	deadline := time.Duration(number(step, "deadline_seconds")) * time.Second
	client, err := iamodules.NewClient(str(step, "endpoint"), iamodules.WithTimeout(deadline))
	if err != nil {
		return nil, nil, failed(err)
	}
	defer client.Close()
	if _, err := client.GetPipeline(context.Background(), "conformance", 0); err != nil {
		return nil, nil, failed(err)
	}
	return map[string]any{}, nil, nil
}
