"""`python -m ia_service_kit.probe --port N`: exit 0 when the service on this host
answers SERVING on grpc.health.v1, 1 otherwise.

The containers' HEALTHCHECK runs it: the images carry no grpc_health_probe binary,
and this one dials with the same IA_TLS_* settings as the service, so it keeps
working when the service requires mutual TLS.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ia_modules import tls


def check(target: str, *, service: str = "", timeout_s: float = 2.0, server_name: str | None = None) -> str:
    """The serving status `target` reports for `service` ("" is the whole server), or the reason it gave none.

    With TLS, the server's certificate is checked against `server_name` when given
    (a certificate for `registry` dialled on 127.0.0.1).
    """
    try:
        settings = tls.TLSSettings.from_env()
        if settings is not None and server_name:
            settings = dataclasses.replace(settings, server_name=server_name)
        with tls.channel(target, tls=settings) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
    except grpc.RpcError as error:
        return f"{error.code().name}: {error.details()}"
    except tls.TLSSettingsError as error:
        return str(error)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ia_service_kit.probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="the service's gRPC port")
    parser.add_argument("--host", default="127.0.0.1", help="default %(default)s")
    parser.add_argument("--service", default="", help="a gRPC service name; default the whole server")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default %(default)s)")
    parser.add_argument(
        "--server-name", default=None, help="with TLS, the name the service's certificate must carry; default the host"
    )
    args = parser.parse_args(argv)
    status = check(
        f"{args.host}:{args.port}", service=args.service, timeout_s=args.timeout, server_name=args.server_name
    )
    print(status)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
