"""Envoy's configuration beyond the plain local stack: TLS, containers, health checks.

deploy/envoy/envoy.yaml is one template for every setting (see `stack.render_envoy_config`).
What differs is layered onto the rendered document here, so the template keeps no
conditionals:

- `with_tls`: the front door serves TLS (and requires client certificates when a
  CA is given), and Envoy dials the services with mutual TLS, checking that each
  one's certificate chains to the CA and names the host dialled.
- `with_health_checks`: Envoy checks each gRPC upstream on grpc.health.v1 and
  sends calls only to the endpoints that answer SERVING.
- `container_config`: the front door of Compose and Kubernetes, where each service
  is reached by its DNS name (`registry`, `plugin-host`, ...).

`python -m ia_modules.envoy --descriptor-set FILE --out FILE [--tls-dir DIR]` writes
the container configuration; the Envoy image runs it at build time.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONTAINER_PORTS", "EnvoyTLS", "container_config", "main", "with_health_checks", "with_tls"]

# The clusters that speak gRPC; `web` is the dashboard's files over plain HTTP/1.1.
GRPC_CLUSTERS = ("registry", "executor", "telemetry", "plugin_host")

# Where each row of the stack listens inside Compose and Kubernetes (DESIGN.md §3);
# the dashboard's container is nginx on 8080.
CONTAINER_PORTS = {"registry": 50051, "executor": 50052, "plugin_host": 50053, "telemetry": 50054, "web": 8080}

_TLS_SOCKET = "envoy.transport_sockets.tls"
_DOWNSTREAM = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
_UPSTREAM = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"


@dataclass(frozen=True)
class EnvoyTLS:
    """Files (PEM) Envoy reads at start: its certificate and key, and the CA peers must chain to."""

    cert: Path
    key: Path
    ca: Path | None = None

    def common_tls_context(self, alpn: list[str]) -> dict[str, Any]:
        """Envoy's CommonTlsContext for these files, offering the ALPN protocols `alpn`."""
        context: dict[str, Any] = {
            "alpn_protocols": alpn,
            "tls_certificates": [
                {"certificate_chain": {"filename": str(self.cert)}, "private_key": {"filename": str(self.key)}}
            ],
        }
        if self.ca is not None:
            context["validation_context"] = {"trusted_ca": {"filename": str(self.ca)}}
        return context


def with_tls(config: str, tls: EnvoyTLS, *, clusters: Iterable[str] = GRPC_CLUSTERS) -> str:
    """`config` with TLS on every listener and mutual TLS to each of `clusters`.

    With a CA, clients of the front door must present a certificate it signed, as
    the services require of Envoy.
    """
    document = yaml.safe_load(config)
    resources = document["static_resources"]
    for listener in resources["listeners"]:
        for chain in listener["filter_chains"]:
            downstream: dict[str, Any] = {
                "@type": _DOWNSTREAM,
                "common_tls_context": tls.common_tls_context(["h2", "http/1.1"]),
            }
            if tls.ca is not None:
                downstream["require_client_certificate"] = True
            chain["transport_socket"] = {"name": _TLS_SOCKET, "typed_config": downstream}
    wanted = set(clusters)
    for cluster in resources["clusters"]:
        if cluster["name"] in wanted:
            context = tls.common_tls_context(["h2"])
            upstream: dict[str, Any] = {"@type": _UPSTREAM, "common_tls_context": context}
            host = _upstream_host(cluster)
            if "validation_context" in context:
                # The certificate must name the host dialled, as gRPC clients check it.
                san_type = "IP_ADDRESS" if _is_ip(host) else "DNS"
                context["validation_context"]["match_typed_subject_alt_names"] = [
                    {"san_type": san_type, "matcher": {"exact": host}}
                ]
            if not _is_ip(host):
                upstream["sni"] = host
            cluster["transport_socket"] = {"name": _TLS_SOCKET, "typed_config": upstream}
    return _dump(document)


def _upstream_host(cluster: dict[str, Any]) -> str:
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    return str(endpoint["address"]["socket_address"]["address"])


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def with_health_checks(config: str, *, clusters: Iterable[str] = GRPC_CLUSTERS) -> str:
    """`config` with an active grpc.health.v1 check on each of `clusters` that has none yet."""
    document = yaml.safe_load(config)
    wanted = set(clusters)
    for cluster in document["static_resources"]["clusters"]:
        if cluster["name"] in wanted and not cluster.get("health_checks"):
            cluster["health_checks"] = [
                {
                    "timeout": "2s",
                    "interval": "5s",
                    "unhealthy_threshold": 2,
                    "healthy_threshold": 1,
                    "grpc_health_check": {},
                }
            ]
    return _dump(document)


def container_config(template: str, *, descriptor_set: Path, tls: EnvoyTLS | None = None) -> str:
    """The front door of Compose and Kubernetes: listens on 0.0.0.0:8080, reaches each
    service by its DNS name (`plugin_host` as `plugin-host`), checks their health."""
    from ia_modules.stack import render_envoy_config

    rendered = render_envoy_config(
        template,
        descriptor_set=descriptor_set,
        envoy_port=8080,
        admin_port=9901,
        upstream_ports=CONTAINER_PORTS,
        hosts={name: name.replace("_", "-") for name in CONTAINER_PORTS},
        address="0.0.0.0",
    )
    rendered = with_health_checks(rendered)
    return rendered if tls is None else with_tls(rendered, tls)


class _Dumper(yaml.SafeDumper):
    """Writes repeated values out in full: Envoy's configuration reads better without YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ia_modules.envoy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=None, help="default deploy/envoy/envoy.yaml of the checkout")
    parser.add_argument("--descriptor-set", type=Path, required=True, help="where Envoy finds the API descriptor set")
    parser.add_argument("--out", type=Path, required=True, help="the file to write")
    parser.add_argument(
        "--tls-dir",
        type=Path,
        default=None,
        help="serve and dial with mutual TLS, reading tls.crt, tls.key and ca.crt from this folder at start",
    )
    args = parser.parse_args(argv)
    if args.template is None:
        from ia_modules.stack import _project_root

        args.template = _project_root() / "deploy" / "envoy" / "envoy.yaml"
    tls = None
    if args.tls_dir is not None:
        tls = EnvoyTLS(cert=args.tls_dir / "tls.crt", key=args.tls_dir / "tls.key", ca=args.tls_dir / "ca.crt")
    try:
        template = args.template.read_text()
    except OSError as error:
        parser.error(f"--template {args.template}: {error.strerror}")
    args.out.write_text(container_config(template, descriptor_set=args.descriptor_set, tls=tls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
