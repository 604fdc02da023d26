package iamodules

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	pipelinev1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/pipeline/v1"
)

// ToStruct turns run inputs or a human answer into a google.protobuf.Struct.
// Values must be JSON-like: nil, bool, numbers, string, []any, map[string]any.
func ToStruct(values map[string]any) (*structpb.Struct, error) {
	if values == nil {
		return &structpb.Struct{}, nil
	}
	s, err := structpb.NewStruct(values)
	if err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	return s, nil
}

// FromStruct turns a Struct (run outputs, step output, task data) into a map;
// numbers come back as float64, as with encoding/json.
func FromStruct(s *structpb.Struct) map[string]any {
	if s == nil {
		return map[string]any{}
	}
	return s.AsMap()
}

// PipelineFromJSON reads a definition in the canonical JSON form (the proto3 JSON
// of ia.pipeline.v1.Pipeline; snake_case or camelCase field names). Definitions
// in older dialects are normalized by the registry: see Client.ImportPipelines.
func PipelineFromJSON(data []byte) (*pipelinev1.Pipeline, error) {
	pipeline := &pipelinev1.Pipeline{}
	if err := protojson.Unmarshal(data, pipeline); err != nil {
		return nil, fmt.Errorf("not a canonical pipeline definition: %w", err)
	}
	return pipeline, nil
}
