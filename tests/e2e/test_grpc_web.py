"""The browser's path: gRPC-Web over HTTP/1.1 through Envoy, and its CORS preflight."""

from __future__ import annotations

import http.client
import struct

import pytest

from ia.registry.v1 import request_response_pb2

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

DASHBOARD_ORIGIN = "http://localhost:5173"
DATA_FRAME = 0x00
TRAILER_FRAME = 0x80


def frame(message: bytes) -> bytes:
    return struct.pack(">BI", DATA_FRAME, len(message)) + message


def unframe(body: bytes) -> tuple[list[bytes], dict[str, str]]:
    """Splits a gRPC-Web response body into its messages and its trailers."""
    messages, trailers = [], {}
    while body:
        flags, length = struct.unpack(">BI", body[:5])
        payload, body = body[5 : 5 + length], body[5 + length :]
        if flags & TRAILER_FRAME:
            for line in payload.decode().strip().split("\r\n"):
                key, _, value = line.partition(":")
                trailers[key.strip().lower()] = value.strip()
        else:
            messages.append(payload)
    return messages, trailers


def connect(endpoint: str) -> http.client.HTTPConnection:
    host, port = endpoint.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=30)


def test_a_grpc_web_call_succeeds(endpoint: str, client, example, pipeline_name: str) -> None:
    client.create_pipeline(example("hello.json", pipeline_name))
    request = request_response_pb2.GetPipelineRequest(name=pipeline_name).SerializeToString()

    connection = connect(endpoint)
    connection.request(
        "POST",
        "/ia.registry.v1.RegistryService/GetPipeline",
        body=frame(request),
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", "origin": DASHBOARD_ORIGIN},
    )
    response = connection.getresponse()
    messages, trailers = unframe(response.read())
    connection.close()

    assert response.status == 200
    assert response.getheader("content-type") == "application/grpc-web+proto"
    assert response.getheader("access-control-allow-origin") == DASHBOARD_ORIGIN
    assert trailers["grpc-status"] == "0"
    reply = request_response_pb2.GetPipelineResponse.FromString(messages[0])
    assert reply.pipeline.name == pipeline_name
    assert reply.pipeline.revision == 1


def test_the_cors_preflight_allows_grpc_web_from_the_dashboard(endpoint: str) -> None:
    connection = connect(endpoint)
    connection.request(
        "OPTIONS",
        "/ia.registry.v1.RegistryService/ListPipelines",
        headers={
            "origin": DASHBOARD_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-grpc-web,traceparent",
        },
    )
    response = connection.getresponse()
    response.read()
    connection.close()

    assert response.status == 200
    assert response.getheader("access-control-allow-origin") == DASHBOARD_ORIGIN
    assert "x-grpc-web" in response.getheader("access-control-allow-headers")
    assert "grpc-status" in response.getheader("access-control-expose-headers")
