// Command example registers a pipeline, runs it through the IA Modules front door
// and prints its events and outputs.
//
//	go run ./cmd/example -definition ../../examples/pipelines/hello.json -input who=Go
//
// The endpoint is IA_ENDPOINT (default localhost:8080); start the stack with
// `make up` first.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	iamodules "github.com/ia-modules/ia-modules/sdk/go"
	executorv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/executor/v1"
)

type inputs map[string]any

func (i inputs) String() string { return fmt.Sprint(map[string]any(i)) }

// Set takes key=value; a value that parses as JSON keeps its type (times=3).
func (i inputs) Set(text string) error {
	key, raw, ok := strings.Cut(text, "=")
	if !ok {
		return fmt.Errorf("%q is not key=value", text)
	}
	var value any
	if json.Unmarshal([]byte(raw), &value) != nil {
		value = raw
	}
	i[key] = value
	return nil
}

func main() {
	endpoint := flag.String("endpoint", "", "host:port of the front door (default IA_ENDPOINT, then localhost:8080)")
	definition := flag.String("definition", "", "a pipeline definition (canonical JSON) to register before running it")
	name := flag.String("pipeline", "", "the registered pipeline to run (default: the definition's name)")
	values := inputs{}
	flag.Var(values, "input", "a run input as key=value (repeatable)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *endpoint, *definition, *name, values); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoint, definitionPath, name string, values inputs) error {
	client, err := iamodules.NewClient(endpoint)
	if err != nil {
		return err
	}
	defer client.Close()

	if definitionPath != "" {
		text, err := os.ReadFile(definitionPath)
		if err != nil {
			return err
		}
		pipeline, err := iamodules.PipelineFromJSON(text)
		if err != nil {
			return fmt.Errorf("%s: %w", definitionPath, err)
		}
		name = pipeline.GetName()
		created, err := client.CreatePipeline(ctx, pipeline, "")
		var e *iamodules.Error
		switch {
		case errors.As(err, &e) && e.Reason == "PIPELINE_ALREADY_EXISTS":
			fmt.Printf("pipeline %s is already registered\n", name)
		case err != nil:
			return err
		default:
			fmt.Printf("registered %s revision %d\n", name, created.GetPipeline().GetRevision())
		}
	}
	if name == "" {
		return errors.New("name a pipeline with -pipeline or -definition")
	}

	run, err := client.StartRun(ctx, iamodules.RunRequest{Pipeline: name, Inputs: values})
	if err != nil {
		return err
	}
	fmt.Printf("started run %s\n", run.GetRunId())
	run, err = client.WaitRun(ctx, run.GetRunId(), printEvent)
	if err != nil {
		return err
	}
	outputs, _ := json.MarshalIndent(iamodules.FromStruct(run.GetOutputs()), "", "  ")
	fmt.Printf("run %s ended %s\noutputs: %s\n", run.GetRunId(), run.GetState(), outputs)
	if run.GetState() != executorv1.RunState_RUN_STATE_SUCCEEDED {
		os.Exit(3)
	}
	return nil
}

func printEvent(event *executorv1.RunEvent) {
	switch kind := event.GetKind().(type) {
	case *executorv1.RunEvent_RunStateChanged:
		fmt.Printf("  #%d run %s\n", event.GetSequence(), kind.RunStateChanged.GetState())
	case *executorv1.RunEvent_StepStateChanged:
		fmt.Printf("  #%d step %s %s\n", event.GetSequence(), kind.StepStateChanged.GetStepId(), kind.StepStateChanged.GetState())
	case *executorv1.RunEvent_InputRequested:
		fmt.Printf("  #%d waiting for input: task %s\n", event.GetSequence(), kind.InputRequested.GetTaskId())
	}
}
