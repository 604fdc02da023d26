"""Generate the Python stubs (with .pyi types) and Envoy's descriptor set from protos/.

Run by `make proto`. The output is not committed:
- sdk/python/src/ia/...: messages, gRPC stubs and typed .pyi files;
- build/api_descriptor.pb: every contract with its imports, plus google.rpc.Status
  and its detail types, for Envoy's REST transcoder (with comments, for the
  OpenAPI document);
- sdk/python/src/ia/pipeline/v1/pipeline_source_info.pb: the definition's proto with
  its comments, for the descriptions of the pipeline JSON Schema.
The google.api protos are vendored under protos/third_party for buf and protoc;
their Python modules come from googleapis-common-protos, so they are not generated.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import google.rpc
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
THIRD_PARTY = PROTOS / "third_party"
PY_OUT = ROOT / "sdk" / "python" / "src"
DESCRIPTOR_OUT = ROOT / "build" / "api_descriptor.pb"
PIPELINE_PROTO = "ia/pipeline/v1/pipeline.proto"
PIPELINE_COMMENTS_OUT = PY_OUT / "ia" / "pipeline" / "v1" / "pipeline_source_info.pb"
WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"
# googleapis-common-protos ships the google/rpc .proto files next to their modules.
GOOGLEAPIS = Path(google.rpc.__path__[0]).parent.parent
# No contract imports these, but Envoy's transcoder can write a failed call as a
# JSON body only when it can decode the status details the services send.
ERROR_DETAIL_PROTOS = ["google/rpc/status.proto", "google/rpc/error_details.proto"]


def contract_files() -> list[str]:
    return sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "ia").rglob("*.proto"))


def run_protoc(args: list[str], *includes: Path) -> None:
    paths = [f"-I{path}" for path in (PROTOS, THIRD_PARTY, WELL_KNOWN, *includes)]
    code = protoc.main(["protoc", *paths, *args])
    if code != 0:
        sys.exit(f"protoc failed with exit code {code}")


def remove_empty_grpc_modules() -> None:
    # protoc writes a _grpc module for every file; only files with services need one.
    for module in (PY_OUT / "ia").rglob("*_pb2_grpc.py"):
        if "Stub" not in module.read_text():
            module.unlink()
            module.with_suffix(".pyi").unlink(missing_ok=True)


def write_package_markers() -> None:
    # Every folder of the generated tree must be a regular package for editors and
    # wheels, and py.typed tells type checkers to read the .pyi files.
    for folder in [PY_OUT / "ia", *(p for p in (PY_OUT / "ia").rglob("*") if p.is_dir())]:
        marker = folder / "__init__.py"
        if not marker.exists():
            marker.write_text('"""Generated from protos/ by scripts/gen_protos.py."""\n')
    (PY_OUT / "ia" / "py.typed").touch()


def main() -> None:
    files = contract_files()
    shutil.rmtree(PY_OUT / "ia", ignore_errors=True)
    run_protoc(
        [
            f"--python_out={PY_OUT}",
            f"--grpc_python_out={PY_OUT}",
            f"--mypy_out={PY_OUT}",
            f"--mypy_grpc_out={PY_OUT}",
            *files,
        ]
    )
    remove_empty_grpc_modules()
    write_package_markers()
    DESCRIPTOR_OUT.parent.mkdir(parents=True, exist_ok=True)
    run_protoc(
        # Source info keeps the proto comments, which the OpenAPI document reuses.
        [
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={DESCRIPTOR_OUT}",
            *files,
            *ERROR_DETAIL_PROTOS,
        ],
        GOOGLEAPIS,
    )
    # The definition's own comments, next to its stubs, for the pipeline JSON Schema's
    # descriptions (`ia-modules schema` runs without the build folder).
    run_protoc(["--include_source_info", f"--descriptor_set_out={PIPELINE_COMMENTS_OUT}", PIPELINE_PROTO])
    print(f"generated {len(files)} contract files into {PY_OUT.relative_to(ROOT)}/ia and {DESCRIPTOR_OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
