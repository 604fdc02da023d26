"""ListPipelines and ListPipelineVersions: order, filters and signed page tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from ia.registry.v1 import request_response_pb2 as rr
from ia.registry.v1 import service_pb2_grpc
from ia_registry.registry import Registry
from ia_registry.store import MIGRATIONS, PipelineStore
from ia_service_kit.database import Database
from ia_service_kit.pagination import PageTokens
from registry_testing import create, pipeline, refused

Stub = service_pb2_grpc.RegistryServiceStub


async def list_all(registry: Stub, page_size: int, **filters: object) -> list[list[str]]:
    pages: list[list[str]] = []
    token = ""
    while True:
        response = await registry.ListPipelines(rr.ListPipelinesRequest(page_size=page_size, page_token=token, **filters))
        pages.append([p.name for p in response.pipelines])
        token = response.next_page_token
        if not token:
            return pages


async def test_pipelines_are_listed_by_name_across_pages(registry: Stub) -> None:
    for name in ["delta", "alpha", "echo", "charlie", "bravo", "golf", "foxtrot"]:
        await create(registry, name)
    assert await list_all(registry, 3) == [["alpha", "bravo", "charlie"], ["delta", "echo", "foxtrot"], ["golf"]]


async def test_a_page_size_of_zero_means_the_default(registry: Stub) -> None:
    for name in ["a1", "a2"]:
        await create(registry, name)
    response = await registry.ListPipelines(rr.ListPipelinesRequest())
    assert [p.name for p in response.pipelines] == ["a1", "a2"]
    assert response.next_page_token == ""


async def test_the_list_shows_each_latest_revision(registry: Stub) -> None:
    await create(registry, "hello")
    await registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline("hello", description="v2")))
    response = await registry.ListPipelines(rr.ListPipelinesRequest())
    assert [(p.name, p.revision, p.definition.description) for p in response.pipelines] == [("hello", 2, "v2")]


async def test_name_prefix_is_literal_not_a_pattern(registry: Stub) -> None:
    for name in ["team_a.one", "team_a.two", "teamxa.three", "other"]:
        await create(registry, name)
    assert await list_all(registry, 10, name_prefix="team_a.") == [["team_a.one", "team_a.two"]]


async def test_labels_filter_needs_every_label_to_match(registry: Stub) -> None:
    await create(registry, "one", labels={"team": "data", "tier": "gold"})
    await create(registry, "two", labels={"team": "data"})
    await create(registry, "three", labels={"team": "web", "tier": "gold"})
    assert await list_all(registry, 10, labels={"team": "data"}) == [["one", "two"]]
    assert await list_all(registry, 10, labels={"team": "data", "tier": "gold"}) == [["one"]]
    assert await list_all(registry, 10, labels={"team": "none"}) == [[]]


async def test_labels_are_those_of_the_latest_revision(registry: Stub) -> None:
    await create(registry, "one", labels={"team": "data"})
    await registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline("one", labels={"team": "web"})))
    assert await list_all(registry, 10, labels={"team": "data"}) == [[]]
    assert await list_all(registry, 10, labels={"team": "web"}) == [["one"]]


async def test_filters_and_pages_combine(registry: Stub) -> None:
    for i in range(5):
        await create(registry, f"p{i}", labels={"keep": "yes" if i % 2 == 0 else "no"})
    assert await list_all(registry, 2, labels={"keep": "yes"}, name_prefix="p") == [["p0", "p2"], ["p4"]]


async def test_a_tampered_page_token_is_refused(registry: Stub) -> None:
    for name in ["a", "b", "c"]:
        await create(registry, name)
    token = (await registry.ListPipelines(rr.ListPipelinesRequest(page_size=1))).next_page_token
    body, signature = token.split(".")
    content = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    content["after"] = "0"
    forged = base64.urlsafe_b64encode(json.dumps(content).encode()).decode().rstrip("=") + "." + signature
    for bad in [forged, "not-a-token", token[:-2]]:
        result = await refused(registry.ListPipelines(rr.ListPipelinesRequest(page_size=1, page_token=bad)))
        assert (result.code, result.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
        assert [v[0] for v in result.violations] == ["page_token"]


async def test_a_page_token_cannot_be_reused_with_other_filters(registry: Stub) -> None:
    for name in ["a1", "a2", "a3"]:
        await create(registry, name)
    token = (await registry.ListPipelines(rr.ListPipelinesRequest(page_size=1, name_prefix="a"))).next_page_token
    result = await refused(
        registry.ListPipelines(rr.ListPipelinesRequest(page_size=1, name_prefix="b", page_token=token))
    )
    assert result.reason == "INVALID_PAGE_TOKEN"


async def test_a_negative_page_size_is_invalid(registry: Stub) -> None:
    result = await refused(registry.ListPipelines(rr.ListPipelinesRequest(page_size=-1)))
    assert (result.code, result.violations[0][0]) == (grpc.StatusCode.INVALID_ARGUMENT, "page_size")


async def test_versions_are_listed_newest_first_across_pages(registry: Stub) -> None:
    await create(registry, "hello")
    for i in range(2, 6):
        await registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline("hello", description=f"v{i}")))
    pages, token = [], ""
    while True:
        response = await registry.ListPipelineVersions(
            rr.ListPipelineVersionsRequest(name="hello", page_size=2, page_token=token)
        )
        pages.append([(v.revision, v.definition.description) for v in response.versions])
        token = response.next_page_token
        if not token:
            break
    assert pages == [[(5, "v5"), (4, "v4")], [(3, "v3"), (2, "v2")], [(1, "says hello")]]


async def test_a_versions_token_belongs_to_its_pipeline(registry: Stub) -> None:
    for name in ["one", "two"]:
        await create(registry, name)
        await registry.UpdatePipeline(rr.UpdatePipelineRequest(pipeline=pipeline(name, description="v2")))
    token = (
        await registry.ListPipelineVersions(rr.ListPipelineVersionsRequest(name="one", page_size=1))
    ).next_page_token
    result = await refused(
        registry.ListPipelineVersions(rr.ListPipelineVersionsRequest(name="two", page_size=1, page_token=token))
    )
    assert result.reason == "INVALID_PAGE_TOKEN"


async def test_versions_of_a_missing_or_nameless_pipeline_are_refused(registry: Stub) -> None:
    missing = await refused(registry.ListPipelineVersions(rr.ListPipelineVersionsRequest(name="ghost")))
    assert (missing.code, missing.reason) == (grpc.StatusCode.NOT_FOUND, "PIPELINE_NOT_FOUND")
    nameless = await refused(registry.ListPipelineVersions(rr.ListPipelineVersionsRequest()))
    assert nameless.violations[0][0] == "name"


@pytest.fixture
def small_page_registry(tmp_path: Path) -> Iterator[Registry]:
    database = Database(f"sqlite:///{tmp_path / 'r.db'}", service="registry", migrations=MIGRATIONS)
    yield Registry(PipelineStore(database), PageTokens(b"test"), page_bytes=1)
    database.close()


def test_a_page_of_large_definitions_ends_early_with_a_token(small_page_registry: Registry) -> None:
    # A page stops once its definitions exceed the byte budget (here: after one),
    # so 1000 large definitions never make a response over the message limit.
    for name in ["a", "b", "c"]:
        small_page_registry.create(pipeline(name))
    seen, token = [], ""
    while True:
        page = small_page_registry.list_pipelines(size=1000, token=token)
        seen.append([v.name for v in page.versions])
        token = page.next_page_token
        if not token:
            break
    assert seen == [["a"], ["b"], ["c"]]
