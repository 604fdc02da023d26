"""Who may call at all: API keys (revocable), JWTs (expired, tampered, wrong key),
the service token, and the calls that need no identity."""

import asyncio
import base64
import json

import grpc
import jwt
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ia.registry.v1 import request_response_pb2 as registry_rr
from ia_modules.client import Client
from ia_modules.errors import IAError
from security_testing import JWT_SECRET, create_pipeline, refused, token_for

LIST = registry_rr.ListPipelinesRequest()


async def names(caller) -> list[str]:
    return [p.name for p in (await caller.registry.ListPipelines(LIST)).pipelines]


async def test_a_call_without_a_token_is_unauthenticated_and_says_how_to_send_one(deployment):
    refusal = await refused(deployment.caller().registry.ListPipelines(LIST))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert "Bearer" in refusal.message and "IA_TOKEN" in refusal.message
    basic = deployment.caller(None, ("authorization", "Basic dXNlcjpwYXNz"))
    refusal = await refused(basic.registry.ListPipelines(LIST))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")


async def test_health_needs_no_identity(deployment):
    async with grpc.aio.insecure_channel(deployment.registry_address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_an_api_key_works_until_it_is_revoked(deployment):
    key = deployment.keys[("acme", "viewer")]
    caller = deployment.caller(key)
    assert await names(caller) == []
    revoked = deployment.key_store.revoke(key)
    assert revoked is not None and revoked.revoked
    refusal = await refused(caller.registry.ListPipelines(LIST))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.UNAUTHENTICATED, "KEY_REVOKED")
    assert revoked.key_id in refusal.message


async def test_an_unknown_or_altered_api_key_is_refused(deployment):
    key = deployment.keys[("acme", "viewer")]
    altered = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    for token in (altered, "iak_0123456789abcdef_" + "x" * 43, "iak_short"):
        refusal = await refused(deployment.caller(token).registry.ListPipelines(LIST))
        assert (refusal.code, refusal.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN"), token


async def test_a_jwt_names_the_tenant_and_role(deployment):
    await create_pipeline(deployment.as_role("acme", "admin"), "hello")
    assert await names(deployment.caller(token_for("ann", "acme", "viewer"))) == ["hello"]
    assert await names(deployment.caller(token_for("bob", "globex", "viewer"))) == []


async def test_an_expired_jwt_is_refused(deployment):
    # Beyond the 30 s the services allow for clock skew.
    expired = token_for("ann", "acme", "viewer", expires_in_s=-120)
    refusal = await refused(deployment.caller(expired).registry.ListPipelines(LIST))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_EXPIRED")


def _tampered(token: str, **claims: str) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(claims)
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_tampered_or_foreign_jwt_is_refused(deployment):
    genuine = token_for("ann", "acme", "viewer")
    unsigned = jwt.encode({"sub": "ann", "tenant": "acme", "role": "admin", "exp": 4102444800}, None, algorithm="none")
    refused_tokens = {
        "tenant changed": _tampered(genuine, tenant="globex"),
        "role raised": _tampered(genuine, role="admin"),
        "other secret": token_for("ann", "acme", "admin", secret="someone-elses-secret-of-enough-length"),
        "alg none": unsigned,
        "not a token": "hello",
    }
    for what, token in refused_tokens.items():
        refusal = await refused(deployment.caller(token).registry.ListPipelines(LIST))
        assert (refusal.code, refusal.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN"), what


async def test_a_jwt_cannot_claim_to_be_a_service_or_skip_its_tenant(deployment):
    as_service = jwt.encode({"sub": "x", "tenant": "acme", "role": "service", "exp": 4102444800}, JWT_SECRET)
    no_tenant = jwt.encode({"sub": "x", "role": "admin", "exp": 4102444800}, JWT_SECRET)
    no_expiry = jwt.encode({"sub": "x", "tenant": "acme", "role": "admin"}, JWT_SECRET)
    odd_tenant = jwt.encode({"sub": "x", "tenant": "ACME/../x", "role": "admin", "exp": 4102444800}, JWT_SECRET)
    for token in (as_service, no_tenant, no_expiry, odd_tenant):
        refusal = await refused(deployment.caller(token).registry.ListPipelines(LIST))
        assert (refusal.code, refusal.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")


async def test_only_the_service_token_may_name_the_tenant_it_acts_for(deployment):
    await create_pipeline(deployment.as_role("globex", "admin"), "globex-only")
    assert await names(deployment.as_service("globex")) == ["globex-only"]
    # A client's own token with the tenant header still sees only its own tenant.
    acme_key = deployment.keys[("acme", "admin")]
    spoofing = deployment.caller(acme_key, ("x-ia-tenant", "globex"))
    assert await names(spoofing) == []


async def test_the_python_client_sends_ia_token_or_its_token_option(deployment, monkeypatch):
    def anonymous_call() -> IAError:
        with Client(deployment.registry_address) as anonymous:
            try:
                anonymous.list_pipelines_page()
            except IAError as error:
                return error
        raise AssertionError("a call without a token was let in")

    def listed(**options: str) -> list:
        with Client(deployment.registry_address, **options) as client:
            return list(client.list_pipelines())

    # The sync client blocks its thread; the services run on this test's event loop.
    error = await asyncio.to_thread(anonymous_call)
    assert (error.code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert await asyncio.to_thread(listed, token=deployment.keys[("acme", "viewer")]) == []
    monkeypatch.setenv("IA_TOKEN", token_for("ann", "acme", "viewer"))
    assert await asyncio.to_thread(listed) == []
