"""Write the documents generated from the contracts: schemas/openapi.json and schemas/pipeline.schema.json.

Run after `make proto` (it reads build/api_descriptor.pb). Both files are committed;
tests/contract/test_api_docs.py fails when either is stale.
"""

from __future__ import annotations

from pathlib import Path

from ia_modules.openapi import openapi_json
from ia_modules.pipeline_schema import pipeline_schema_json

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR_SET = ROOT / "build" / "api_descriptor.pb"
SCHEMAS = ROOT / "schemas"


def main() -> None:
    SCHEMAS.mkdir(exist_ok=True)
    (SCHEMAS / "openapi.json").write_text(openapi_json(DESCRIPTOR_SET.read_bytes()))
    (SCHEMAS / "pipeline.schema.json").write_text(pipeline_schema_json())
    print(f"wrote {SCHEMAS.relative_to(ROOT)}/openapi.json and {SCHEMAS.relative_to(ROOT)}/pipeline.schema.json")


if __name__ == "__main__":
    main()
