"""ValidatePipeline and ImportPipelines: any dialect in, findings out, content-hash imports."""

from __future__ import annotations

import json

import grpc

from ia.pipeline.v1 import pipeline_pb2
from ia.registry.v1 import message_pb2
from ia.registry.v1 import request_response_pb2 as rr
from ia.registry.v1 import service_pb2_grpc
from ia_modules.definition import content_hash, load_definition
from registry_testing import create, definition, pipeline, refused

Stub = service_pb2_grpc.RegistryServiceStub
ERROR = pipeline_pb2.FINDING_SEVERITY_ERROR
WARNING = pipeline_pb2.FINDING_SEVERITY_WARNING

LEGACY = {
    "name": "legacy",
    "steps": [{"id": "a", "type": "pass"}, {"id": "b", "type": "pass"}],
    "flow": {"start_at": "a", "paths": [{"from_step": "a", "to_step": "b"}]},
}


# --- ValidatePipeline -----------------------------------------------------------------


async def test_a_valid_message_validates(registry: Stub) -> None:
    response = await registry.ValidatePipeline(rr.ValidatePipelineRequest(pipeline=pipeline("hello")))
    assert (response.valid, list(response.findings), response.source_dialect) == (True, [], "canonical")
    assert response.pipeline == pipeline("hello")


async def test_legacy_text_is_normalized_and_its_dialect_reported(registry: Stub) -> None:
    response = await registry.ValidatePipeline(rr.ValidatePipelineRequest(definition_json=json.dumps(LEGACY)))
    assert (response.valid, response.source_dialect) == (True, "legacy")
    # `from` is a Python keyword, hence getattr.
    assert [(getattr(t, "from"), t.to) for t in response.pipeline.flow.transitions] == [("a", "b")]


async def test_an_invalid_definition_returns_findings_and_does_not_raise(registry: Stub) -> None:
    doc = definition("bad", flow={"start_at": "greet", "transitions": [{"from": "greet", "to": "gone"}]})
    response = await registry.ValidatePipeline(rr.ValidatePipelineRequest(definition_json=json.dumps(doc, indent=2)))
    assert response.valid is False
    finding = response.findings[0]
    assert (finding.severity, finding.path, finding.code) == (ERROR, "flow.transitions[0].to", "UNKNOWN_STEP")
    assert finding.line > 1  # located in the source text


async def test_malformed_json_is_a_finding_with_a_line(registry: Stub) -> None:
    response = await registry.ValidatePipeline(rr.ValidatePipelineRequest(definition_json='{\n"name": "x",\n}'))
    assert response.valid is False
    assert not response.HasField("pipeline")
    assert [(f.code, f.line) for f in response.findings] == [("INVALID_JSON", 3)]


async def test_strict_makes_warnings_invalid(registry: Stub) -> None:
    slow = pipeline("slow", steps=[{"id": "slow", "type": "pass", "timeout_s": 100000}], flow={})
    lenient = await registry.ValidatePipeline(rr.ValidatePipelineRequest(pipeline=slow))
    strict = await registry.ValidatePipeline(rr.ValidatePipelineRequest(pipeline=slow, strict=True))
    assert (lenient.valid, [f.severity for f in lenient.findings]) == (True, [WARNING])
    assert (strict.valid, [f.severity for f in strict.findings]) == (False, [ERROR])


async def test_strict_applies_to_reading_warnings_too(registry: Stub) -> None:
    text = '{"name": "dup", "name": "dup", "steps": [{"id": "a", "type": "pass"}]}'
    lenient = await registry.ValidatePipeline(rr.ValidatePipelineRequest(definition_json=text))
    strict = await registry.ValidatePipeline(rr.ValidatePipelineRequest(definition_json=text, strict=True))
    assert lenient.valid is True and [f.code for f in lenient.findings] == ["DUPLICATE_KEY"]
    assert strict.valid is False and [f.severity for f in strict.findings] == [ERROR]


async def test_validate_without_a_source_is_invalid(registry: Stub) -> None:
    result = await refused(registry.ValidatePipeline(rr.ValidatePipelineRequest()))
    assert (result.code, result.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert result.violations[0][0] == "source"


async def test_validate_applies_the_size_limits_to_text_and_messages(registry: Stub) -> None:
    huge_text = json.dumps(definition("huge", description="x" * (6 * 1024 * 1024)))
    by_text = await registry.ValidatePipeline(rr.ValidatePipelineRequest(definition_json=huge_text))
    assert (by_text.valid, [f.code for f in by_text.findings]) == (False, ["DOCUMENT_TOO_LARGE"])
    many = pipeline("many", steps=[{"id": f"s{i}", "type": "pass"} for i in range(2001)], flow={})
    by_message = await registry.ValidatePipeline(rr.ValidatePipelineRequest(pipeline=many))
    assert (by_message.valid, [f.code for f in by_message.findings]) == (False, ["TOO_MANY_STEPS"])


async def test_validate_stores_nothing(registry: Stub) -> None:
    await registry.ValidatePipeline(rr.ValidatePipelineRequest(pipeline=pipeline("hello")))
    assert list((await registry.ListPipelines(rr.ListPipelinesRequest())).pipelines) == []


# --- ImportPipelines ------------------------------------------------------------------


def source(name: str, doc: dict | str) -> message_pb2.ImportSource:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return message_pb2.ImportSource(source_name=name, definition_json=text)


async def test_import_creates_updates_skips_and_reports_invalid_in_order(registry: Stub) -> None:
    await create(registry, "same")
    await create(registry, "changed")
    sources = [
        source("new.json", definition("new")),
        source("same.json", definition("same")),
        source("changed.json", definition("changed", description="edited")),
        source("broken.json", definition("broken", flow={"start_at": "nowhere"})),
        source("garbage.json", "{not json"),
        source("legacy.json", LEGACY),
    ]
    results = (await registry.ImportPipelines(rr.ImportPipelinesRequest(sources=sources))).results
    summary = [(r.source_name, r.name, r.outcome, r.revision) for r in results]
    assert summary == [
        ("new.json", "new", message_pb2.IMPORT_OUTCOME_CREATED, 1),
        ("same.json", "same", message_pb2.IMPORT_OUTCOME_UNCHANGED, 1),
        ("changed.json", "changed", message_pb2.IMPORT_OUTCOME_UPDATED, 2),
        ("broken.json", "broken", message_pb2.IMPORT_OUTCOME_INVALID, 0),
        ("garbage.json", "", message_pb2.IMPORT_OUTCOME_INVALID, 0),
        ("legacy.json", "legacy", message_pb2.IMPORT_OUTCOME_CREATED, 1),
    ]
    assert [f.code for f in results[3].findings] == ["UNKNOWN_STEP"]
    assert [f.code for f in results[4].findings] == ["INVALID_JSON"]
    assert "garbage.json" in results[4].findings[0].message

    names = [p.name for p in (await registry.ListPipelines(rr.ListPipelinesRequest())).pipelines]
    assert names == ["changed", "legacy", "new", "same"]  # nothing stored for the invalid ones
    stored = (await registry.GetPipeline(rr.GetPipelineRequest(name="legacy"))).pipeline
    assert stored.source_dialect == "legacy"
    assert stored.content_hash == content_hash(load_definition(json.dumps(LEGACY)).pipeline)


async def test_reimporting_the_same_folder_changes_nothing(registry: Stub) -> None:
    sources = [source("a.json", definition("a")), source("legacy.json", LEGACY)]
    await registry.ImportPipelines(rr.ImportPipelinesRequest(sources=sources))
    # The same content in another dialect or formatting has the same hash.
    reformatted = [source("a.json", json.dumps(definition("a"), indent=4, sort_keys=True)), source("legacy.json", LEGACY)]
    again = (await registry.ImportPipelines(rr.ImportPipelinesRequest(sources=reformatted))).results
    assert [(r.outcome, r.revision) for r in again] == [(message_pb2.IMPORT_OUTCOME_UNCHANGED, 1)] * 2


async def test_one_name_twice_in_one_import_is_applied_in_order(registry: Stub) -> None:
    sources = [source("one.json", definition("twice")), source("two.json", definition("twice", description="2"))]
    results = (await registry.ImportPipelines(rr.ImportPipelinesRequest(sources=sources))).results
    assert [(r.outcome, r.revision) for r in results] == [
        (message_pb2.IMPORT_OUTCOME_CREATED, 1),
        (message_pb2.IMPORT_OUTCOME_UPDATED, 2),
    ]


async def test_import_keeps_warnings_of_stored_sources(registry: Stub) -> None:
    slow = definition("slow", steps=[{"id": "slow", "type": "pass", "timeout_s": 100000}], flow={})
    result = (await registry.ImportPipelines(rr.ImportPipelinesRequest(sources=[source("slow.json", slow)]))).results[0]
    assert result.outcome == message_pb2.IMPORT_OUTCOME_CREATED
    assert [(f.severity, f.code) for f in result.findings] == [(WARNING, "SUSPICIOUS_UNIT")]


async def test_an_oversized_source_is_invalid_and_the_rest_still_import(registry: Stub) -> None:
    huge = json.dumps(definition("huge", description="x" * (6 * 1024 * 1024)))
    sources = [source("huge.json", huge), source("small.json", definition("small"))]
    results = (await registry.ImportPipelines(rr.ImportPipelinesRequest(sources=sources))).results
    assert [(r.outcome, [f.code for f in r.findings]) for r in results] == [
        (message_pb2.IMPORT_OUTCOME_INVALID, ["DOCUMENT_TOO_LARGE"]),
        (message_pb2.IMPORT_OUTCOME_CREATED, []),
    ]
