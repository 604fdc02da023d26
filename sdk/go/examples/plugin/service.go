package main

import (
	"context"
	"fmt"
	"math"
	"strings"

	pluginv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/plugin/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/structpb"
)

const version = "1.0.0"

// service serves the two plugins of this process.
type service struct {
	pluginv1.UnimplementedPluginServiceServer
}

func registerPlugin(server *grpc.Server) {
	pluginv1.RegisterPluginServiceServer(server, service{})
}

// fieldSchema is the config schema of both plugins: which input field to read.
func fieldSchema(defaultField string) *structpb.Struct {
	schema, err := structpb.NewStruct(map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"field": map[string]any{"type": "string", "minLength": 1, "default": defaultField},
		},
	})
	if err != nil {
		panic(err) // a constant schema; only a programming error gets here
	}
	return schema
}

var descriptors = map[string]*pluginv1.PluginDescriptor{
	"go_upper": {
		Name:         "go_upper",
		Version:      version,
		Kinds:        []pluginv1.PluginKind{pluginv1.PluginKind_PLUGIN_KIND_STEP},
		Description:  "Uppercases the input field named by `field` (default `text`).",
		ConfigSchema: fieldSchema("text"),
	},
	"go_even": {
		Name:         "go_even",
		Version:      version,
		Kinds:        []pluginv1.PluginKind{pluginv1.PluginKind_PLUGIN_KIND_CONDITION},
		Description:  "True when the input field named by `field` (default `n`) is an even whole number.",
		ConfigSchema: fieldSchema("n"),
	},
}

// failure is an error status with the ErrorInfo (and BadRequest) the contract asks for.
func failure(code codes.Code, reason, field, message string) error {
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: "ia-modules"}}
	if field != "" {
		details = append(details, &errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: message}},
		})
	}
	st, err := status.New(code, message).WithDetails(details...)
	if err != nil {
		return status.Error(code, message)
	}
	return st.Err()
}

// plugin finds the named plugin and checks it has `kind`.
func plugin(name string, kind pluginv1.PluginKind) error {
	descriptor, ok := descriptors[name]
	if !ok {
		return failure(codes.NotFound, "PLUGIN_NOT_FOUND", "", fmt.Sprintf("this process serves no plugin %q", name))
	}
	for _, k := range descriptor.Kinds {
		if k == kind {
			return nil
		}
	}
	return failure(codes.Unimplemented, "KIND_NOT_SUPPORTED", "", fmt.Sprintf("plugin %q is not a %s plugin", name, kind))
}

// configuredField is the `field` config value, or `fallback`.
func configuredField(config *structpb.Struct, fallback string) (string, error) {
	value, ok := config.GetFields()["field"]
	if !ok {
		return fallback, nil
	}
	text, isText := value.GetKind().(*structpb.Value_StringValue)
	if !isText || text.StringValue == "" {
		return "", failure(codes.InvalidArgument, "INVALID_CONFIG", "config.field", "must be a non-empty string")
	}
	return text.StringValue, nil
}

func (service) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	return &pluginv1.DescribeResponse{
		Plugins:         []*pluginv1.PluginDescriptor{descriptors["go_even"], descriptors["go_upper"]},
		ProtocolVersion: 1,
	}, nil
}

func (service) ExecuteStep(request *pluginv1.ExecuteStepRequest, stream grpc.ServerStreamingServer[pluginv1.ExecuteStepResponse]) error {
	if err := plugin(request.GetPlugin(), pluginv1.PluginKind_PLUGIN_KIND_STEP); err != nil {
		return err
	}
	field, err := configuredField(request.GetConfig(), "text")
	if err != nil {
		return err
	}
	value, ok := request.GetInput().GetFields()[field].GetKind().(*structpb.Value_StringValue)
	if !ok {
		return failure(codes.InvalidArgument, "INVALID_INPUT", "input."+field, "must be a string")
	}
	output, _ := structpb.NewStruct(map[string]any{field: strings.ToUpper(value.StringValue)})
	return stream.Send(&pluginv1.ExecuteStepResponse{
		Message: &pluginv1.ExecuteStepResponse_Result{Result: &pluginv1.StepResult{Output: output}},
	})
}

func (service) EvaluateCondition(_ context.Context, request *pluginv1.EvaluateConditionRequest) (*pluginv1.EvaluateConditionResponse, error) {
	if err := plugin(request.GetPlugin(), pluginv1.PluginKind_PLUGIN_KIND_CONDITION); err != nil {
		return nil, err
	}
	field, err := configuredField(request.GetConfig(), "n")
	if err != nil {
		return nil, err
	}
	value, ok := request.GetInput().GetFields()[field].GetKind().(*structpb.Value_NumberValue)
	if !ok || value.NumberValue != math.Trunc(value.NumberValue) {
		return nil, failure(codes.InvalidArgument, "INVALID_INPUT", "input."+field, "must be a whole number")
	}
	even := math.Mod(value.NumberValue, 2) == 0
	return &pluginv1.EvaluateConditionResponse{Result: even, Reason: fmt.Sprintf("%s = %g", field, value.NumberValue)}, nil
}
