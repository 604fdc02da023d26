"""Hypothesis strategies for the fuzzers: JSON values, definition-shaped documents,
template text and CEL text, each biased towards the characters and keys that matter
to the code under test, so that a bounded number of examples still reaches it."""

from __future__ import annotations

from hypothesis import strategies as st

KEYS = st.sampled_from(
    [
        "name", "version", "steps", "flow", "transitions", "paths", "from", "to", "from_step", "to_step",
        "id", "type", "plugin", "module", "step_class", "inputs", "outputs", "parameters", "condition",
        "config", "expr", "source", "operator", "value", "retry", "max_attempts", "timeout_s", "map", "items",
        "step", "pipeline", "human_input", "ui_schema", "wait", "seconds", "start_at", "loop_config",
        "max_iterations", "error_handling", "on_error", "fallback", "schema", "required", "default", "",
    ]
) | st.text(max_size=8)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["pass", "map", "pipeline", "human_input", "wait", "cel", "always", "{{ a.b }}", "{x}"])
)

JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)

STEP = st.fixed_dictionaries(
    {"id": st.text(max_size=6) | st.integers()},
    optional={
        "type": st.sampled_from(["pass", "map", "pipeline", "human_input", "wait", "bogus"]) | JSON,
        "plugin": st.text(max_size=6) | JSON,
        "inputs": JSON,
        "config": JSON,
        "map": JSON,
        "human_input": JSON,
        "retry": JSON,
        "timeout_s": SCALARS,
    },
)

DEFINITION = st.fixed_dictionaries(
    {"name": st.text(max_size=10) | SCALARS},
    optional={
        "steps": st.lists(STEP | JSON, max_size=5) | JSON,
        "flow": st.fixed_dictionaries(
            {},
            optional={
                "start_at": st.text(max_size=6) | JSON,
                "transitions": st.lists(
                    st.fixed_dictionaries(
                        {"from": st.text(max_size=6), "to": st.text(max_size=6)}, optional={"condition": JSON}
                    )
                    | JSON,
                    max_size=4,
                ),
                "paths": JSON,
            },
        )
        | JSON,
        "parameters": JSON,
        "outputs": JSON,
        "error_handling": JSON,
    },
)

TEMPLATE_TEXT = st.lists(
    st.sampled_from(
        ["{{", "}}", "{", "}", " ", ".", "[", "]", "0", "parameters", "steps", "output", "item", "index", "a", "__",
         "__class__", "__import__('os')", "|", "'", '"', "\\", "()", "run", "error", "result", "%", "$"]
    )
    | st.text(max_size=3),
    max_size=20,
).map("".join)

CEL_TEXT = st.lists(
    st.sampled_from(
        ["(", ")", "[", "]", "{", "}", ".", ",", " ", "1", "2.5", "'s'", '"x"', "true", "null", "+", "-", "*", "/",
         "%", "==", "!=", "<", ">=", "&&", "||", "!", "?", ":", "in", "size(", "has(", "result", "parameters",
         "steps", "run", ".map(x, ", ".all(x, ", ".exists(x, ", ".filter(x, ", "x", "matches(", "int(", "string(",
         "b'\\xff'", "\\", "0x", "9223372036854775807", "duration(", "timestamp("]
    )
    | st.text(max_size=3),
    max_size=30,
).map("".join)
