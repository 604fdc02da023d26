package main

import (
	"context"
	"testing"

	pluginv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/plugin/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

func env(values map[string]string) func(string) string {
	return func(key string) string { return values[key] }
}

func TestSocketPathChecksTheHandshakeVariables(t *testing.T) {
	good := map[string]string{magicCookieKey: magicCookie, protocolsKey: "2, 1", socketKey: "/tmp/p.sock"}
	if path, err := socketPath(env(good)); err != nil || path != "/tmp/p.sock" {
		t.Fatalf("got %q, %v", path, err)
	}
	for name, values := range map[string]map[string]string{
		"no cookie":     {protocolsKey: "1", socketKey: "/tmp/p.sock"},
		"wrong version": {magicCookieKey: magicCookie, protocolsKey: "2", socketKey: "/tmp/p.sock"},
		"no socket":     {magicCookieKey: magicCookie, protocolsKey: "1"},
	} {
		if _, err := socketPath(env(values)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEvenCondition(t *testing.T) {
	for n, want := range map[float64]bool{4: true, 7: false, 0: true} {
		input, _ := structpb.NewStruct(map[string]any{"n": n})
		answer, err := service{}.EvaluateCondition(context.Background(),
			&pluginv1.EvaluateConditionRequest{Plugin: "go_even", Input: input})
		if err != nil || answer.GetResult() != want {
			t.Errorf("n=%g: got %v, %v", n, answer.GetResult(), err)
		}
	}
	input, _ := structpb.NewStruct(map[string]any{"n": 2.5})
	_, err := service{}.EvaluateCondition(context.Background(), &pluginv1.EvaluateConditionRequest{Plugin: "go_even", Input: input})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("2.5: got %v", err)
	}
}

type sink struct {
	grpc.ServerStreamingServer[pluginv1.ExecuteStepResponse]
	sent []*pluginv1.ExecuteStepResponse
}

func (s *sink) Send(message *pluginv1.ExecuteStepResponse) error {
	s.sent = append(s.sent, message)
	return nil
}

func TestUpperStep(t *testing.T) {
	input, _ := structpb.NewStruct(map[string]any{"name": "ada"})
	config, _ := structpb.NewStruct(map[string]any{"field": "name"})
	stream := &sink{}
	err := service{}.ExecuteStep(&pluginv1.ExecuteStepRequest{Plugin: "go_upper", Config: config, Input: input}, stream)
	if err != nil || len(stream.sent) != 1 {
		t.Fatalf("got %v, %v", stream.sent, err)
	}
	if got := stream.sent[0].GetResult().GetOutput().AsMap()["name"]; got != "ADA" {
		t.Errorf("got %v", got)
	}
	err = service{}.ExecuteStep(&pluginv1.ExecuteStepRequest{Plugin: "go_even", Input: input}, stream)
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("condition as step: got %v", err)
	}
	err = service{}.ExecuteStep(&pluginv1.ExecuteStepRequest{Plugin: "nope"}, stream)
	if status.Code(err) != codes.NotFound {
		t.Errorf("unknown plugin: got %v", err)
	}
}

func TestLimitRefusesPluginCallsBeyondMaxConcurrency(t *testing.T) {
	calls := newLimit(env(map[string]string{maxConcurrencyKey: "1"}))
	leave, err := calls.enter("/ia.plugin.v1.PluginService/ExecuteStep")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := calls.enter("/ia.plugin.v1.PluginService/Describe"); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("second call: got %v", err)
	}
	if _, err := calls.enter("/grpc.health.v1.Health/Check"); err != nil {
		t.Errorf("health check refused: %v", err)
	}
	leave()
	if _, err := calls.enter("/ia.plugin.v1.PluginService/Describe"); err != nil {
		t.Errorf("after the first call ended: %v", err)
	}
	if newLimit(env(nil)) != nil {
		t.Error("no IA_PLUGIN_MAX_CONCURRENCY should mean no limit")
	}
}
