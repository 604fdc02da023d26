"""A bare grpc.aio server that serves only grpc.health.v1: the gRPC baseline.

It is what a round trip costs with nothing of ours on the path: the same
Python, the same grpcio, the same loopback and the same client as the executor
gets. Prints `listening on 127.0.0.1:<port>` once serving, like our services,
and stops on SIGTERM. With `--socket PATH` it serves on that Unix socket instead
and prints `listening on unix:PATH` (the baseline of a plugin call). It also
serves `/bench.Bare/StreamOne`, a server stream of one empty message: the bare
cost of a stream, next to a step plugin's ExecuteStep.

    python bare_grpc_server.py --port 0
    python bare_grpc_server.py --socket /tmp/bare.sock
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


async def stream_one(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield b""


async def serve(port: int, socket: str | None) -> None:
    server = grpc.aio.server()
    streams = {"StreamOne": grpc.unary_stream_rpc_method_handler(stream_one)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Bare", streams),))
    servicer = health.aio.HealthServicer()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if socket:
        server.add_insecure_port(f"unix:{socket}")
        where = f"unix:{socket}"
    else:
        where = f"127.0.0.1:{server.add_insecure_port(f'127.0.0.1:{port}')}"
    await server.start()
    print(f"listening on {where}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(grace=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--socket", help="serve on this Unix socket instead of a TCP port")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.socket))


if __name__ == "__main__":
    main()
