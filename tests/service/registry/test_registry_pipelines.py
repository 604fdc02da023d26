"""Create, get, update and delete: revisions, etags, field masks and every refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2

from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import request_response_pb2 as rr
from ia.registry.v1 import service_pb2_grpc
from ia_modules.definition import canonical_dict, content_hash
from registry_testing import create, pipeline, refused

Stub = service_pb2_grpc.RegistryServiceStub


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


# --- CreatePipeline -------------------------------------------------------------------


async def test_create_stores_revision_1_with_hash_etag_and_time(registry: Stub) -> None:
    response = await create(registry, "hello")
    version = response.pipeline
    assert (version.name, version.revision, version.source_dialect) == ("hello", 1, "canonical")
    assert version.content_hash == content_hash(pipeline("hello"))
    assert version.etag and version.create_time.seconds > 0
    assert canonical_dict(version.definition) == canonical_dict(pipeline("hello"))
    assert list(response.warnings) == []


async def test_create_returns_warnings_and_still_stores(registry: Stub) -> None:
    steps = [{"id": "slow", "type": "pass", "timeout_s": 100000}]
    response = await create(registry, "slow", steps=steps, flow={})
    assert response.pipeline.revision == 1
    assert [(w.path, w.code) for w in response.warnings] == [("steps[0].timeout_s", "SUSPICIOUS_UNIT")]


async def test_an_invalid_definition_is_refused_with_json_paths(registry: Stub) -> None:
    flow = {"start_at": "greet", "transitions": [{"from": "greet", "to": "nowhere"}]}
    result = await refused(registry.CreatePipeline(rr.CreatePipelineRequest(pipeline=pipeline("bad", flow=flow))))
    assert result.code == grpc.StatusCode.INVALID_ARGUMENT
    assert (result.reason, result.domain) == ("INVALID_DEFINITION", "ia-modules")
    assert [(field, reason) for field, reason, _ in result.violations] == [("flow.transitions[0].to", "UNKNOWN_STEP")]
    assert "nowhere" in result.violations[0][2]
    assert "Traceback" not in result.message


async def test_a_definition_without_name_or_steps_names_both_problems(registry: Stub) -> None:
    result = await refused(registry.CreatePipeline(rr.CreatePipelineRequest(pipeline=pipeline_pb2.Pipeline())))
    assert result.reason == "INVALID_DEFINITION"
    assert {(field, reason) for field, reason, _ in result.violations} == {("name", "MISSING_NAME"), ("steps", "NO_STEPS")}
    assert result.metadata["error_count"] == "2"


async def test_a_taken_name_is_already_exists(registry: Stub) -> None:
    await create(registry, "hello")
    result = await refused(create(registry, "hello", description="another"))
    assert result.code == grpc.StatusCode.ALREADY_EXISTS
    assert result.reason == "PIPELINE_ALREADY_EXISTS"
    assert result.metadata == {"name": "hello"}


async def test_create_is_idempotent_per_request_id(registry: Stub) -> None:
    request = rr.CreatePipelineRequest(pipeline=pipeline("hello"), request_id="req-1")
    first = await registry.CreatePipeline(request)
    retry = await registry.CreatePipeline(request)
    assert retry.pipeline == first.pipeline
    other = await refused(
        registry.CreatePipeline(rr.CreatePipelineRequest(pipeline=pipeline("hello"), request_id="req-2"))
    )
    assert other.reason == "PIPELINE_ALREADY_EXISTS"


async def test_a_retried_create_returns_the_original_even_after_updates(registry: Stub) -> None:
    request = rr.CreatePipelineRequest(pipeline=pipeline("hello"), request_id="req-1")
    first = await registry.CreatePipeline(request)
    await registry.UpdatePipeline(
        rr.UpdatePipelineRequest(pipeline=pipeline("hello", description="v2"), update_mask=mask("description"))
    )
    assert (await registry.CreatePipeline(request)).pipeline == first.pipeline


async def test_concurrent_creates_of_one_name_store_it_once(registry: Stub) -> None:
    calls = [create(registry, "race", description=f"writer {i}") for i in range(6)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    created = [r for r in results if isinstance(r, rr.CreatePipelineResponse)]
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert {f.code() for f in failures} == {grpc.StatusCode.ALREADY_EXISTS}


# --- GetPipeline ----------------------------------------------------------------------


async def test_get_returns_the_latest_or_the_asked_revision(registry: Stub) -> None:
    await create(registry, "hello")
    await registry.UpdatePipeline(
        rr.UpdatePipelineRequest(pipeline=pipeline("hello", description="v2"), update_mask=mask("description"))
    )
    latest = await registry.GetPipeline(rr.GetPipelineRequest(name="hello"))
    first = await registry.GetPipeline(rr.GetPipelineRequest(name="hello", revision=1))
    assert (latest.pipeline.revision, latest.pipeline.definition.description) == (2, "v2")
    assert (first.pipeline.revision, first.pipeline.definition.description) == (1, "says hello")


async def test_get_of_a_missing_name_or_revision_is_not_found(registry: Stub) -> None:
    missing = await refused(registry.GetPipeline(rr.GetPipelineRequest(name="nope")))
    assert (missing.code, missing.reason, missing.metadata) == (
        grpc.StatusCode.NOT_FOUND,
        "PIPELINE_NOT_FOUND",
        {"name": "nope"},
    )
    await create(registry, "hello")
    no_revision = await refused(registry.GetPipeline(rr.GetPipelineRequest(name="hello", revision=7)))
    assert (no_revision.code, no_revision.reason) == (grpc.StatusCode.NOT_FOUND, "PIPELINE_NOT_FOUND")
    assert no_revision.metadata == {"name": "hello", "revision": "7"}


async def test_get_without_a_name_or_with_a_negative_revision_is_invalid(registry: Stub) -> None:
    no_name = await refused(registry.GetPipeline(rr.GetPipelineRequest()))
    assert (no_name.code, no_name.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert [v[0] for v in no_name.violations] == ["name"]
    negative = await refused(registry.GetPipeline(rr.GetPipelineRequest(name="hello", revision=-1)))
    assert [v[0] for v in negative.violations] == ["revision"]


# --- UpdatePipeline -------------------------------------------------------------------


async def test_a_masked_update_takes_only_the_named_fields(registry: Stub) -> None:
    created = (await create(registry, "hello")).pipeline
    patch = pipeline("hello", description="new words", steps=[{"id": "other", "type": "pass"}], flow={})
    updated = (
        await registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=patch, update_mask=mask("description")))
    ).pipeline
    assert updated.revision == 2
    assert updated.definition.description == "new words"
    assert [s.id for s in updated.definition.steps] == ["greet", "done"]
    assert updated.etag != created.etag
    assert updated.content_hash != created.content_hash


async def test_masked_steps_and_flow_replace_those_fields_whole(registry: Stub) -> None:
    await create(registry, "hello", labels={"team": "a"})
    patch = pipeline("hello", steps=[{"id": "only", "type": "pass"}], flow={"start_at": "only"})
    updated = (
        await registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=patch, update_mask=mask("steps", "flow")))
    ).pipeline
    assert [s.id for s in updated.definition.steps] == ["only"]
    assert updated.definition.flow.start_at == "only"
    assert list(updated.definition.flow.transitions) == []
    assert dict(updated.definition.labels) == {"team": "a"}


async def test_an_empty_mask_or_star_replaces_the_whole_definition(registry: Stub) -> None:
    await create(registry, "hello", labels={"team": "a"})
    replaced = (await registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline("hello", description="")))).pipeline
    assert (replaced.revision, replaced.definition.description, dict(replaced.definition.labels)) == (2, "", {})
    starred = (
        await registry.UpdatePipeline(
            rr.UpdatePipelineRequest(pipeline=pipeline("hello", description="star"), update_mask=mask("*"))
        )
    ).pipeline
    assert (starred.revision, starred.definition.description) == (3, "star")


async def test_an_unknown_mask_path_is_invalid_and_named(registry: Stub) -> None:
    await create(registry, "hello")
    result = await refused(
        registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline("hello"), update_mask=mask("description", "stepz")))
    )
    assert (result.code, result.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert result.violations[0][0] == "update_mask.paths[1]"
    assert "`stepz`" in result.violations[0][2] and "`stepz`" in result.message


async def test_star_must_be_the_only_mask_path(registry: Stub) -> None:
    result = await refused(
        registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline("hello"), update_mask=mask("steps", "*")))
    )
    assert result.violations[0][0] == "update_mask.paths[1]"


async def test_an_update_with_the_same_content_stores_nothing(registry: Stub) -> None:
    created = (await create(registry, "hello")).pipeline
    same = (await registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline("hello"), etag=created.etag))).pipeline
    assert same == created
    versions = await registry.ListPipelineVersions(rr.ListPipelineVersionsRequest(name="hello"))
    assert [v.revision for v in versions.versions] == [1]


async def test_an_update_with_a_stale_etag_is_aborted(registry: Stub) -> None:
    created = (await create(registry, "hello")).pipeline
    await registry.UpdatePipeline(
        rr.UpdatePipelineRequest(pipeline=pipeline("hello", description="v2"), update_mask=mask("description"))
    )
    result = await refused(
        registry.UpdatePipeline(
            rr.UpdatePipelineRequest(
                pipeline=pipeline("hello", description="v3"), update_mask=mask("description"), etag=created.etag
            )
        )
    )
    assert (result.code, result.reason) == (grpc.StatusCode.ABORTED, "ETAG_MISMATCH")
    assert result.metadata == {"name": "hello", "etag": created.etag}


async def test_an_update_whose_result_is_invalid_is_refused(registry: Stub) -> None:
    await create(registry, "hello")
    bad_flow = pipeline("hello", flow={"start_at": "greet", "transitions": [{"from": "greet", "to": "gone"}]})
    result = await refused(registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=bad_flow, update_mask=mask("flow"))))
    assert result.reason == "INVALID_DEFINITION"
    assert result.violations[0][:2] == ("flow.transitions[0].to", "UNKNOWN_STEP")


async def test_updating_a_missing_pipeline_is_not_found_and_a_nameless_one_invalid(registry: Stub) -> None:
    missing = await refused(registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline("ghost"))))
    assert (missing.code, missing.reason) == (grpc.StatusCode.NOT_FOUND, "PIPELINE_NOT_FOUND")
    nameless = await refused(registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline(""))))
    assert nameless.violations[0][0] == "pipeline.name"


async def test_two_concurrent_updates_with_one_etag_exactly_one_wins(registry: Stub) -> None:
    etag = (await create(registry, "hello")).pipeline.etag

    def update(text: str) -> rr.UpdatePipelineRequest:
        return rr.UpdatePipelineRequest(
            pipeline=pipeline("hello", description=text), update_mask=mask("description"), etag=etag
        )

    results = await asyncio.gather(
        registry.UpdatePipeline(update("first")), registry.UpdatePipeline(update("second")), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, rr.UpdatePipelineResponse)]
    losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].code() == grpc.StatusCode.ABORTED
    latest = (await registry.GetPipeline(rr.GetPipelineRequest(name="hello"))).pipeline
    assert latest.revision == 2
    assert latest.definition.description == winners[0].pipeline.definition.description


async def test_the_etag_race_holds_across_two_processes_on_one_database(start_registry, tmp_path: Path) -> None:
    # Two servers, each with its own engine and connection pool, share the SQLite file
    # exactly as two processes (or two replicas on PostgreSQL) would.
    servers = [await start_registry(tmp_path / "shared") for _ in range(2)]
    async with grpc.aio.insecure_channel(servers[0].address) as a, grpc.aio.insecure_channel(servers[1].address) as b:
        stubs = [service_pb2_grpc.RegistryServiceStub(a), service_pb2_grpc.RegistryServiceStub(b)]
        etag = (await create(stubs[0], "hello")).pipeline.etag
        for attempt in range(5):
            requests = [
                rr.UpdatePipelineRequest(
                    pipeline=pipeline("hello", description=f"{attempt}-{i}"), update_mask=mask("description"), etag=etag
                )
                for i in range(2)
            ]
            results = await asyncio.gather(
                *(stub.UpdatePipeline(request) for stub, request in zip(stubs, requests, strict=True)),
                return_exceptions=True,
            )
            winners = [r for r in results if isinstance(r, rr.UpdatePipelineResponse)]
            losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
            assert len(winners) == 1, results
            assert [loser.code() for loser in losers] == [grpc.StatusCode.ABORTED]
            etag = winners[0].pipeline.etag
        versions = await stubs[1].ListPipelineVersions(rr.ListPipelineVersionsRequest(name="hello"))
        assert [v.revision for v in versions.versions] == [6, 5, 4, 3, 2, 1]


async def test_concurrent_updates_without_etag_each_get_a_revision(registry: Stub) -> None:
    await create(registry, "hello")
    requests = [
        rr.UpdatePipelineRequest(pipeline=pipeline("hello", description=f"writer {i}"), update_mask=mask("description"))
        for i in range(4)
    ]
    results = await asyncio.gather(*(registry.UpdatePipeline(r) for r in requests))
    assert sorted(r.pipeline.revision for r in results) == [2, 3, 4, 5]


# --- DeletePipeline -------------------------------------------------------------------


async def test_delete_removes_every_revision_and_frees_the_name(registry: Stub) -> None:
    await create(registry, "hello")
    await registry.UpdatePipeline(
        rr.UpdatePipelineRequest(pipeline=pipeline("hello", description="v2"), update_mask=mask("description"))
    )
    deleted = await registry.DeletePipeline(rr.DeletePipelineRequest(name="hello"))
    assert deleted.deleted_revisions == 2
    gone = await refused(registry.GetPipeline(rr.GetPipelineRequest(name="hello", revision=1)))
    assert gone.reason == "PIPELINE_NOT_FOUND"
    assert (await create(registry, "hello")).pipeline.revision == 1


async def test_delete_checks_the_etag_when_given(registry: Stub) -> None:
    created = (await create(registry, "hello")).pipeline
    stale = await refused(registry.DeletePipeline(rr.DeletePipelineRequest(name="hello", etag="stale")))
    assert (stale.code, stale.reason) == (grpc.StatusCode.ABORTED, "ETAG_MISMATCH")
    deleted = await registry.DeletePipeline(rr.DeletePipelineRequest(name="hello", etag=created.etag))
    assert deleted.deleted_revisions == 1


async def test_an_etag_from_before_a_delete_does_not_match_the_recreated_pipeline(registry: Stub) -> None:
    old = (await create(registry, "hello")).pipeline
    await registry.DeletePipeline(rr.DeletePipelineRequest(name="hello"))
    new = (await create(registry, "hello")).pipeline
    assert new.etag != old.etag


async def test_delete_of_a_missing_or_nameless_pipeline_is_refused(registry: Stub) -> None:
    missing = await refused(registry.DeletePipeline(rr.DeletePipelineRequest(name="ghost")))
    assert (missing.code, missing.reason) == (grpc.StatusCode.NOT_FOUND, "PIPELINE_NOT_FOUND")
    nameless = await refused(registry.DeletePipeline(rr.DeletePipelineRequest()))
    assert (nameless.code, nameless.violations[0][0]) == (grpc.StatusCode.INVALID_ARGUMENT, "name")


# --- limits ---------------------------------------------------------------------------


async def test_a_definition_over_5_mb_is_refused_clearly(registry: Stub) -> None:
    huge = pipeline("huge", description="x" * (6 * 1024 * 1024))
    result = await refused(registry.CreatePipeline(rr.CreatePipelineRequest(pipeline=huge)))
    assert (result.code, result.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_DEFINITION")
    assert [(field, reason) for field, reason, _ in result.violations] == [("$", "DOCUMENT_TOO_LARGE")]
    assert "limit" in result.message


async def test_a_definition_over_2000_steps_is_refused_clearly(registry: Stub) -> None:
    steps = [{"id": f"s{i}", "type": "pass"} for i in range(2001)]
    result = await refused(create(registry, "long", steps=steps, flow={}))
    assert result.reason == "INVALID_DEFINITION"
    assert [(field, reason) for field, reason, _ in result.violations] == [("steps", "TOO_MANY_STEPS")]


async def test_an_update_over_the_limits_is_refused_too(registry: Stub) -> None:
    await create(registry, "hello")
    huge = pipeline("hello", description="x" * (6 * 1024 * 1024))
    result = await refused(registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=huge, update_mask=mask("description"))))
    assert result.violations[0][1] == "DOCUMENT_TOO_LARGE"
