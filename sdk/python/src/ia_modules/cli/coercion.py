"""Typer's parameter coercion, without pydantic for the values that need no conversion.

Typer 0.29 coerces every parameter value through a pydantic TypeAdapter that it
builds on first use, so every command imported pydantic: about a third of the
time of `ia-modules validate`. Most values need no conversion at all: an option
left at None, an enum member given as a default, a string for a `str`, a path
for a `Path`, a choice spelled as written. Those are answered here with typer's
own pydantic-free helpers, giving what its adapters give. Every other value, and
any value this shortcut is not sure of or that fails, goes to typer's adapter,
which also words the error. So behaviour is unchanged; only the import is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import typer.core
from typer import _coercion, _param_types


class _Unsure(Exception):
    """This value is left to typer's adapter."""


@dataclass(frozen=True)
class _DirectFirst(_coercion.RuntimeParam):
    descriptor: Any = None
    # Typer's own runtime parameter, built only when a value needs it.
    _adapter: list[Any] = field(default_factory=list)

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return _direct(self.annotation, self.parameter_info, value, param, ctx)
        except Exception:  # unsure or invalid: typer's adapter decides, and words the error
            if not self._adapter:
                self._adapter.append(_typer_build(self.descriptor))
            return self._adapter[0]._coerce_value(value, param=param, ctx=ctx)


def _direct(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    if info.parser is not None:
        raise _Unsure
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        values = value if isinstance(value, (list, tuple)) else [value]
        return [_direct(item, info, v, param, ctx) for v in values]
    if _param_types.lenient_issubclass(annotation, Enum):
        return _param_types.coerce_cli_choice(
            value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
        )
    if annotation is str and type(value) is str:
        return value
    if annotation is Path and info.path_type is None and not info.allow_dash and type(value) is str:
        return _param_types.coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    raise _Unsure


_typer_build = getattr(typer.core, "build_runtime_param", None)


def _build(descriptor: Any) -> Any:
    if descriptor.file_annotation is not None:
        return _typer_build(descriptor)
    return _DirectFirst(
        annotation=descriptor.annotation, parameter_info=descriptor.parameter_info, descriptor=descriptor
    )


def install() -> None:
    """Use the shortcut in this process; a typer without the hook keeps its own way."""
    if _typer_build is not None and all(hasattr(_param_types, name) for name in ("coerce_cli_choice", "coerce_cli_path")):
        typer.core.build_runtime_param = _build
