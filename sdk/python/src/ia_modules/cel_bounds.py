"""Static bounds on CEL text, checked before the runtime sees it.

The CEL runtime has no cost limit, runs in native code (it cannot be interrupted,
and the engine evaluates conditions synchronously), and panics on deeply nested
text. So what could run away is refused up front, by shape:

- the length of the expression (``MAX_CEL_LENGTH``);
- how deeply brackets nest (``MAX_CEL_NESTING``), which the parser recurses on;
- how deeply comprehensions (``map``, ``filter``, ``all``, ``exists``,
  ``exists_one``) nest (``MAX_CEL_COMPREHENSION_NESTING``): each level multiplies
  the work by the length of a list, so three levels over literal lists of ten
  items already cost a thousand times one.

A comprehension over a list from the data still costs time in proportion to the
data, which the step output limit (IA_MAX_STEP_OUTPUT_BYTES) bounds.
"""

from __future__ import annotations

import re

__all__ = ["MAX_CEL_COMPREHENSION_NESTING", "MAX_CEL_LENGTH", "MAX_CEL_NESTING", "cel_bound_problem"]

MAX_CEL_LENGTH = 4096
MAX_CEL_NESTING = 32
MAX_CEL_COMPREHENSION_NESTING = 2

_COMPREHENSION = re.compile(r"\.\s*(?:map|filter|all|exists|exists_one)\s*\($")
_OPEN = "([{"
_CLOSE = ")]}"


def cel_bound_problem(expr: str) -> str | None:
    """Why ``expr`` is refused before compiling, in words; None when within bounds."""
    if len(expr) > MAX_CEL_LENGTH:
        return f"is too long ({len(expr)} characters; at most {MAX_CEL_LENGTH})"
    stack: list[bool] = []  # one entry per open bracket: does it open a comprehension?
    comprehensions = 0
    quote: str | None = None
    index = 0
    while index < len(expr):
        char = expr[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif expr.startswith(quote, index):
                index += len(quote) - 1
                quote = None
        elif char in "'\"":
            quote = expr[index : index + 3] if expr.startswith(char * 3, index) else char
            index += len(quote) - 1
        elif char in _OPEN:
            opens_comprehension = char == "(" and _COMPREHENSION.search(expr, 0, index + 1) is not None
            stack.append(opens_comprehension)
            comprehensions += opens_comprehension
            if len(stack) > MAX_CEL_NESTING:
                return f"nests brackets too deeply (more than {MAX_CEL_NESTING} levels)"
            if comprehensions > MAX_CEL_COMPREHENSION_NESTING:
                return (
                    f"nests comprehensions (map, filter, all, exists) too deeply "
                    f"(more than {MAX_CEL_COMPREHENSION_NESTING} levels)"
                )
        elif char in _CLOSE and stack:
            comprehensions -= stack.pop()
        index += 1
    return None
