"""IA Modules: the Python SDK, the definition model and the CLIs.

`Client`, `AsyncClient` and `IAError` load on first use, so that importing the
package (as the CLI does on every start) does not pay for gRPC and protobuf.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ia_modules.client import AsyncClient, Client
    from ia_modules.errors import IAError

__all__ = ["AsyncClient", "Client", "IAError"]

_EXPORTS = {
    "AsyncClient": "ia_modules.client",
    "Client": "ia_modules.client",
    "IAError": "ia_modules.errors",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ia_modules' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
