package iamodules

import (
	"context"
	"iter"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pipelinev1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/pipeline/v1"
	registryv1 "github.com/ia-modules/ia-modules/sdk/go/gen/ia/registry/v1"
)

// CreatePipeline stores a new pipeline as revision 1. requestID ("" for none)
// makes the call idempotent. The response holds the stored version and any
// validation warnings; a definition with errors fails with INVALID_ARGUMENT and
// field violations that point into it.
func (c *Client) CreatePipeline(ctx context.Context, pipeline *pipelinev1.Pipeline, requestID string) (*registryv1.CreatePipelineResponse, error) {
	return unary(c, ctx, c.Registry.CreatePipeline, &registryv1.CreatePipelineRequest{Pipeline: pipeline, RequestId: requestID})
}

// GetPipeline returns a revision of a pipeline; revision 0 means the latest.
func (c *Client) GetPipeline(ctx context.Context, name string, revision int64) (*registryv1.PipelineVersion, error) {
	response, err := unary(c, ctx, c.Registry.GetPipeline, &registryv1.GetPipelineRequest{Name: name, Revision: revision})
	return response.GetPipeline(), err
}

// PipelineFilter narrows ListPipelines.
type PipelineFilter struct {
	// NamePrefix keeps names starting with it.
	NamePrefix string
	// Labels keeps pipelines carrying every one of these labels.
	Labels map[string]string
	// PageSize is how many to fetch per call; 0 lets the service choose.
	PageSize int32
}

// ListPipelines yields the latest revision of every pipeline, by name, fetching
// pages as the caller ranges on.
func (c *Client) ListPipelines(ctx context.Context, filter PipelineFilter) iter.Seq2[*registryv1.PipelineVersion, error] {
	return pages(ctx, func(ctx context.Context, token string) ([]*registryv1.PipelineVersion, string, error) {
		request := &registryv1.ListPipelinesRequest{NamePrefix: filter.NamePrefix, Labels: filter.Labels, PageSize: filter.PageSize, PageToken: token}
		response, err := unary(c, ctx, c.Registry.ListPipelines, request)
		return response.GetPipelines(), response.GetNextPageToken(), err
	})
}

// UpdatePipeline stores a new revision: the latest one with the fields named in
// mask taken from pipeline (an empty mask replaces the whole definition). A
// non-empty etag makes the update apply only if the latest revision still has it.
func (c *Client) UpdatePipeline(ctx context.Context, pipeline *pipelinev1.Pipeline, mask []string, etag string) (*registryv1.UpdatePipelineResponse, error) {
	request := &registryv1.UpdatePipelineRequest{Pipeline: pipeline, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}, Etag: etag}
	return unary(c, ctx, c.Registry.UpdatePipeline, request)
}

// DeletePipeline deletes a pipeline and all its revisions, and returns how many
// revisions were deleted.
func (c *Client) DeletePipeline(ctx context.Context, name, etag string) (int64, error) {
	response, err := unary(c, ctx, c.Registry.DeletePipeline, &registryv1.DeletePipelineRequest{Name: name, Etag: etag})
	return response.GetDeletedRevisions(), err
}

// ValidatePipeline checks a definition given as JSON text in any supported
// dialect, without storing it. Findings are returned, not raised.
func (c *Client) ValidatePipeline(ctx context.Context, definitionJSON string, strict bool) (*registryv1.ValidatePipelineResponse, error) {
	request := &registryv1.ValidatePipelineRequest{Source: &registryv1.ValidatePipelineRequest_DefinitionJson{DefinitionJson: definitionJSON}, Strict: strict}
	return unary(c, ctx, c.Registry.ValidatePipeline, request)
}

// ImportPipelines stores definitions given as JSON text in any dialect, each
// validated on its own; a source whose content did not change is left alone.
// One result per source, in order.
func (c *Client) ImportPipelines(ctx context.Context, sources ...*registryv1.ImportSource) ([]*registryv1.ImportResult, error) {
	response, err := unary(c, ctx, c.Registry.ImportPipelines, &registryv1.ImportPipelinesRequest{Sources: sources})
	return response.GetResults(), err
}
