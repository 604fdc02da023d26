"""The data a CEL expression reads: the dotted paths below its variables.

The CEL runtime reports which variables an expression uses, not which fields it
reads from them. A light scan finds the plain dotted paths (`result.score`,
`steps.fetch.items`), string literals skipped, so that validation can check them
against what steps output and a dry run can show their values. Indexing
(`result["x"]`) is not followed; nothing is evaluated.
"""

from __future__ import annotations

import re

ROOTS = ("parameters", "steps", "result", "run")
"""The variables a condition's CEL expression sees (DESIGN.md §4)."""

_STRING = re.compile(
    r'[rRbB]{0,2}(?:"""(?:\\.|[^\\])*?"""|\'\'\'(?:\\.|[^\\])*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\')'
)
_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\s*\.\s*[A-Za-z_]\w*)+)")


def member_paths(expr: str) -> list[tuple[str, ...]]:
    """Each `root.a.b` path `expr` reads below one of `ROOTS`, in order, without repeats.

    A trailing method call is not part of the path: `result.items.size()` reads
    `("result", "items")`.
    """
    text = _STRING.sub('""', expr)
    found: list[tuple[str, ...]] = []
    for match in _DOTTED.finditer(text):
        root = match.group(1)
        if root not in ROOTS:
            continue
        names = tuple(part.strip() for part in match.group(2).split(".")[1:])
        if text[match.end() :].lstrip().startswith("("):
            names = names[:-1]
        path = (root, *names)
        if path not in found:
            found.append(path)
    return found
