"""Older dialects of the definition format, rewritten to the canonical shape.

Definitions written for the original library (`ia-modules` 0.2) must load unchanged.
`Normalizer` rewrites every older form it knows into the shape of the proto3 JSON of
`ia.pipeline.v1.Pipeline`, names each form it saw (the dialect features), and remembers
where each rewritten value came from so findings can point into the file as written.
It leaves type checking to `proto_json.Conformer`; a value of an unexpected shape is
passed through untouched so that the type check can report it.
"""

from __future__ import annotations

import re

from . import paths
from .findings import Code, Finding, did_you_mean, error, warning
from .names import BUILTIN_CONDITION_TYPES, BUILTIN_STEP_TYPES, PIPELINE_NAME, pipeline_name_for

# In the original library a transition to one of these names (when no step has it) ended the run.
_END_MARKER = re.compile(r"end(_.*)?\Z")
# The original library's condition plugins are all named `<something>_condition`.
_CONDITION_PLUGIN = re.compile(r"[a-z][a-z0-9_]*_condition\Z")

LEGACY_OPERATORS = {
    "greater_than": "gt",
    "greater_than_or_equals": "gte",
    "less_than": "lt",
    "less_than_or_equals": "lte",
    "regex": "matches",
}

_RETRY_NAMES = {
    "initial_delay": "initial_delay_s",
    "max_delay": "max_delay_s",
    "exponential_base": "backoff_multiplier",
}
# What a bool `jitter` of the original RetryConfig becomes as a fraction.
JITTER_WHEN_TRUE = 0.1

_STEP_ERROR_FIELDS = {
    "retry": "retry",
    "timeout_s": "timeout_s",
    "timeout": "timeout_s",
    "timeout_seconds": "timeout_s",
    "continue_on_error": "continue_on_error",
    "on_error": "on_error",
    "fallback": "fallback",
}

# Settings of the built-in step types that the original library kept in `config`,
# by type: config key -> field of the typed spec.
_TYPED_SETTINGS = {
    "human_input": {
        "prompt": "prompt",
        "ui_schema": "ui_schema",
        "assignees": "assignees",
        "assigned_users": "assignees",
        "timeout_s": "timeout_s",
        "timeout": "timeout_s",
        "timeout_seconds": "timeout_s",
        "on_timeout": "on_timeout",
        "default_response": "default_response",
    },
    "map": {"items": "items", "step": "step", "max_concurrency": "max_concurrency"},
    "pipeline": {"name": "name", "pipeline": "name", "revision": "revision"},
    "wait": {"seconds": "seconds", "wait_seconds": "seconds"},
}

# Field widgets of the original library's form-style ui_schema, as JSON Schema types.
_WIDGET_TYPES = {
    "number": "number",
    "integer": "integer",
    "checkbox": "boolean",
    "boolean": "boolean",
    "multiselect": "array",
}


class Origins:
    """Where each rewritten part of the canonical document came from in the source."""

    def __init__(self) -> None:
        self._source: dict[str, str] = {}

    def record(self, canonical: str, source: str) -> None:
        if canonical != source:
            self._source[canonical] = source

    def source(self, canonical: str) -> str:
        """The source path of a canonical path (the same path when nothing was rewritten)."""
        if not self._source:
            return canonical
        current_canonical = paths.ROOT
        current_source = paths.ROOT
        for part in paths.segments(canonical):
            current_canonical = paths.join(current_canonical, [part])
            mapped = self._source.get(current_canonical)
            current_source = mapped if mapped is not None else paths.join(current_source, [part])
        return current_source


class Normalizer:
    """Rewrites one definition document to the canonical shape; see the module docstring."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.features: list[str] = []
        self.origins = Origins()

    def _feature(self, name: str) -> None:
        if name not in self.features:
            self.features.append(name)

    def _moved(self, canonical: str, source: str) -> None:
        self.origins.record(canonical, source)

    # The pipeline.

    def pipeline(self, doc: dict) -> dict:
        """The canonical-shaped form of a definition document (a JSON object)."""
        root = paths.ROOT
        out: dict = {}
        for name, value in doc.items():
            where = paths.key(root, name)
            if name == "$schema":
                continue
            if name == "parameters" and isinstance(value, list):
                self._parameter_list(value, where, doc, out)
            elif name == "input_schema":
                self._input_schema(value, where, doc, out)
            elif name == "output_schema":
                self._feature("output_schema")
                self._dropped(where, "a pipeline-level output_schema has no equivalent; declare `outputs` instead")
            elif name == "metadata":
                self._metadata(value, where, doc, out)
            elif name == "plugin_config" and isinstance(value, dict):
                out[name] = self._plugin_config(value, where)
            elif name == "loop_config" and isinstance(value, dict):
                out[name] = self._loop_config(value, where)
            elif name == "error_handling" and isinstance(value, dict):
                out[name] = self._error_policy(value, where)
            elif name == "steps" and isinstance(value, list):
                out[name] = [
                    self.step(step, paths.index(where, i), paths.index(where, i)) for i, step in enumerate(value)
                ]
            elif name == "flow" and isinstance(value, dict):
                out[name] = self._flow(value, where, doc.get("steps"))
            else:
                out[name] = value
        if self.features and isinstance(out.get("name"), str):
            self._free_form_name(out)
        return out

    def _dropped(self, where: str, message: str) -> None:
        self.findings.append(warning(where, Code.LEGACY_FIELD_DROPPED, message))

    def _conflict(self, where: str, message: str, hint: str | None = None) -> None:
        self.findings.append(error(where, Code.CONFLICTING_FIELDS, message, hint))

    def _parameter_list(self, items: list, where: str, doc: dict, out: dict) -> None:
        self._feature("parameters as list")
        if "parameter_specs" in doc:
            self._conflict(
                where,
                "parameters are declared both as a list here and in `parameter_specs`",
                "declare each parameter once",
            )
            return
        defaults: dict = {}
        specs: list = []
        self._moved("parameter_specs", where)
        for i, item in enumerate(items):
            item_path = paths.index(where, i)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                self.findings.append(
                    error(item_path, Code.MISSING_PARAMETER_NAME, "each entry of a parameter list needs a `name`")
                )
                continue
            spec = {key: value for key, value in item.items() if key != "default"}
            if "default" in item:
                defaults[item["name"]] = item["default"]
                self._moved(paths.key("parameters", item["name"]), paths.key(item_path, "default"))
            self._moved(paths.index("parameter_specs", len(specs)), item_path)
            specs.append(spec)
        out["parameters"] = defaults
        out["parameter_specs"] = specs

    def _input_schema(self, schema, where: str, doc: dict, out: dict) -> None:
        self._feature("input_schema")
        if "parameter_specs" in doc or isinstance(doc.get("parameters"), list):
            self._dropped(where, "input_schema is ignored because the parameters are declared another way")
            return
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            self._dropped(where, "input_schema declares no `properties`, so it declares no parameters")
            return
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        out["parameter_specs"] = [
            {"name": name, "required": name in required, "schema": prop} for name, prop in schema["properties"].items()
        ]
        self._moved("parameter_specs", paths.key(where, "properties"))
        for i, name in enumerate(schema["properties"]):
            self._moved(paths.index("parameter_specs", i), paths.key(paths.key(where, "properties"), name))

    def _metadata(self, value, where: str, doc: dict, out: dict) -> None:
        self._feature("metadata")
        if not isinstance(value, dict):
            self.findings.append(error(where, Code.INVALID_TYPE, "expected an object"))
            return
        if "labels" in doc:
            self._dropped(where, "metadata is ignored because `labels` are given")
            return
        labels = {}
        for key, item in value.items():
            if isinstance(item, str):
                labels[key] = item
            else:
                self._dropped(paths.key(where, key), "only text metadata is kept, as a label")
        out["labels"] = labels
        self._moved("labels", where)

    def _plugin_config(self, value: dict, where: str) -> dict:
        out = dict(value)
        if "plugins_dir" in out:
            del out["plugins_dir"]
            self._feature("plugin_config.plugins_dir")
            self._dropped(
                paths.key(where, "plugins_dir"),
                "plugins_dir is ignored: plugins are installed on the plugin host (IA_PLUGINS_DIR)",
            )
        return out

    def _loop_config(self, value: dict, where: str) -> dict:
        out = dict(value)
        if "iteration_delay_seconds" in out:
            del out["iteration_delay_seconds"]
            self._feature("loop_config.iteration_delay_seconds")
            self._dropped(
                paths.key(where, "iteration_delay_seconds"),
                "iteration_delay_seconds has no equivalent; add a `wait` step inside the loop",
            )
        return out

    def _error_policy(self, value: dict, where: str) -> dict:
        out = dict(value)
        if isinstance(out.get("retry"), dict):
            out["retry"] = self._retry(out["retry"], paths.key(where, "retry"), paths.key("error_handling", "retry"))
        return out

    def _free_form_name(self, out: dict) -> None:
        name = out["name"]
        if PIPELINE_NAME.match(name):
            return
        slug = pipeline_name_for(name)
        if not slug:
            return
        self._feature("free-form name")
        out["name"] = slug
        self.findings.append(
            warning(
                "name",
                Code.NAME_NORMALIZED,
                f"`{name}` is not a registry name (lowercase letters, digits, `-`, `_`, `.`); it is loaded as `{slug}`",
                f'set "name": "{slug}" and keep the title in `description`',
            )
        )

    # Steps.

    def step(self, value, source: str, canonical: str) -> object:
        """The canonical-shaped form of one step (a top-level step or a map's inner step)."""
        if not isinstance(value, dict):
            return value
        out: dict = {}
        for name, item in value.items():
            if name == "name" and "id" not in value and isinstance(item, str):
                self._feature("step name as id")
                out["id"] = item
                self._moved(paths.key(canonical, "id"), paths.key(source, "name"))
            elif name == "class":
                self._feature("class")
                if "step_class" in value and value["step_class"] != item:
                    self._conflict(
                        paths.key(source, name), "both `class` and `step_class` are given", "keep only `step_class`"
                    )
                else:
                    out["step_class"] = item
                    self._moved(paths.key(canonical, "step_class"), paths.key(source, name))
            elif name == "type" and item == "task":
                self._feature("type task")
            elif name == "type" and "module" in value and item not in BUILTIN_STEP_TYPES:
                # The original library ran module steps by class and never read `type`.
                self._feature("type label on a module step")
                self._dropped(paths.key(source, name), f"`type` {item!r} is ignored on a module step")
            elif name == "inputs" and isinstance(item, list):
                out["inputs"] = self._input_list(item, paths.key(source, name), paths.key(canonical, name))
            elif name == "outputs" and isinstance(item, list) and any(isinstance(o, str) for o in item):
                self._feature("outputs as names")
                out["outputs"] = [{"name": o} if isinstance(o, str) else o for o in item]
            elif name == "retry" and isinstance(item, dict):
                out["retry"] = self._retry(item, paths.key(source, name), paths.key(canonical, name))
            elif name == "error_handling" and isinstance(item, dict):
                self._feature("step error_handling")
                self._lift_error_handling(item, value, paths.key(source, name), canonical, out)
            elif name == "input_schema":
                self._feature("step input_schema")
                self._dropped(paths.key(source, name), "a step's input_schema has no equivalent and is ignored")
            elif name == "output_schema":
                self._feature("step output_schema")
                self._output_schema(item, value, paths.key(source, name), canonical, out)
            elif name == "config" and isinstance(item, dict) and isinstance(item.get("error_handling"), dict):
                self._feature("config.error_handling")
                config = {k: v for k, v in item.items() if k != "error_handling"}
                if config:
                    out["config"] = config
                config_path = paths.key(source, "config")
                self._lift_error_handling(
                    item["error_handling"], value, paths.key(config_path, "error_handling"), canonical, out
                )
            else:
                out[name] = item
        self._lift_typed_settings(out, source, canonical)
        if isinstance(out.get("map"), dict) and "step" in out["map"]:
            out["map"] = dict(out["map"])
            map_source = self.origins.source(paths.key(canonical, "map"))
            out["map"]["step"] = self.step(
                out["map"]["step"], paths.key(map_source, "step"), paths.key(paths.key(canonical, "map"), "step")
            )
        return out

    def _input_list(self, items: list, source: str, canonical: str) -> dict:
        self._feature("inputs as list")
        self._moved(canonical, source)
        out: dict = {}
        for i, item in enumerate(items):
            item_path = paths.index(source, i)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "source" not in item:
                self.findings.append(
                    error(
                        item_path,
                        Code.INVALID_VALUE,
                        "each entry of an input list needs a `name` and a `source`",
                        'write {"name": "topic", "source": "{{ parameters.topic }}"}',
                    )
                )
                continue
            out[item["name"]] = item["source"]
            self._moved(paths.key(canonical, item["name"]), paths.key(item_path, "source"))
        return out

    def _retry(self, value: dict, source: str, canonical: str) -> dict:
        self._moved(canonical, source)
        out: dict = {}
        for name, item in value.items():
            new = _RETRY_NAMES.get(name)
            if new is not None:
                self._feature("retry field names")
                if new in value:
                    self._conflict(
                        paths.key(source, name), f"both `{name}` and `{new}` are given", f"keep only `{new}`"
                    )
                    continue
                out[new] = item
                self._moved(paths.key(canonical, new), paths.key(source, name))
            elif name == "jitter" and isinstance(item, bool):
                self._feature("jitter as bool")
                out["jitter"] = JITTER_WHEN_TRUE if item else 0.0
            else:
                out[name] = item
        return out

    def _lift_error_handling(self, policy: dict, step: dict, source: str, canonical: str, out: dict) -> None:
        for name, item in policy.items():
            where = paths.key(source, name)
            target = _STEP_ERROR_FIELDS.get(name)
            if name == "enable_fallback":
                self._dropped(where, "enable_fallback is ignored; give the output to use on failure as `fallback`")
                continue
            if target is None:
                hint = did_you_mean(name, [*list(_STEP_ERROR_FIELDS), "enable_fallback"])
                self.findings.append(error(where, Code.UNKNOWN_FIELD, f"unknown error_handling field `{name}`", hint))
                continue
            if target in step or target in out:
                self._conflict(where, f"`{target}` is given both here and on the step", "keep one of them")
                continue
            if target == "retry" and isinstance(item, dict):
                item = self._retry(item, where, paths.key(canonical, target))
            out[target] = item
            self._moved(paths.key(canonical, target), where)

    def _output_schema(self, schema, step: dict, source: str, canonical: str, out: dict) -> None:
        if "outputs" in step or not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            self._dropped(source, "output_schema is used only for a step without `outputs` and with `properties`")
            return
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        properties = paths.key(source, "properties")
        out["outputs"] = []
        for i, (name, prop) in enumerate(schema["properties"].items()):
            out["outputs"].append({"name": name, "required": name in required, "schema": prop})
            self._moved(paths.index(paths.key(canonical, "outputs"), i), paths.key(properties, name))

    def _lift_typed_settings(self, out: dict, source: str, canonical: str) -> None:
        kind = out.get("type")
        settings = _TYPED_SETTINGS.get(kind) if isinstance(kind, str) else None
        config = out.get("config")
        if settings is None or kind in out or not isinstance(config, dict):
            return
        lifted = {}
        config_path = paths.key(source, "config")
        spec_path = paths.key(canonical, kind)
        for key, item in config.items():
            field = settings.get(key)
            if field is None or field in lifted:
                continue
            lifted[field] = item
            self._moved(paths.key(spec_path, field), paths.key(config_path, key))
        if not lifted:
            return
        self._feature(f"{kind} settings in config")
        self._moved(spec_path, config_path)
        rest = {key: item for key, item in config.items() if key not in settings}
        if rest:
            out["config"] = rest
        else:
            del out["config"]
        if kind == "human_input" and isinstance(lifted.get("ui_schema"), dict):
            lifted["ui_schema"] = self._form_schema(lifted["ui_schema"])
        out[kind] = lifted

    def _form_schema(self, ui_schema: dict) -> dict:
        """The original library's form description ({"fields": [...]}) as a JSON Schema."""
        fields = ui_schema.get("fields")
        if not isinstance(fields, list) or "properties" in ui_schema:
            return ui_schema
        if not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields):
            return ui_schema
        self._feature("ui_schema fields")
        schema: dict = {"type": "object"}
        for key in ("title", "description"):
            if isinstance(ui_schema.get(key), str):
                schema[key] = ui_schema[key]
        properties: dict = {}
        required = []
        for f in fields:
            widget = f.get("type") if isinstance(f.get("type"), str) else "text"
            prop: dict = {"type": _WIDGET_TYPES.get(widget, "string"), "ui:widget": widget}
            if isinstance(f.get("label"), str):
                prop["title"] = f["label"]
            options = f.get("options")
            if isinstance(options, list) and options:
                prop["enum"] = [o.get("value") if isinstance(o, dict) else o for o in options]
            if "default" in f:
                prop["default"] = f["default"]
            properties[f["name"]] = prop
            if f.get("required") is True:
                required.append(f["name"])
        schema["properties"] = properties
        if required:
            schema["required"] = required
        return schema

    # The flow.

    def _flow(self, value: dict, source: str, steps) -> dict:
        out: dict = {}
        declared = set()
        for step in steps if isinstance(steps, list) else []:
            if isinstance(step, dict):
                declared.add(str(step.get("id", step.get("name"))))
        for name, item in value.items():
            where = paths.key(source, name)
            if name == "paths":
                self._feature("flow.paths")
                if "transitions" in value:
                    self._conflict(
                        where, "the flow has both `paths` and `transitions`", "merge them into `transitions`"
                    )
                    continue
                self._moved(paths.key("flow", "transitions"), where)
                out["transitions"] = self._transitions(item, where, declared)
            elif name == "transitions":
                out["transitions"] = self._transitions(item, where, declared)
            else:
                out[name] = item
        return out

    def _transitions(self, items, source: str, declared: set) -> object:
        if not isinstance(items, list):
            return items
        canonical = paths.key("flow", "transitions")
        out = []
        for i, item in enumerate(items):
            item_source = paths.index(source, i)
            if isinstance(item, dict):
                target = item.get("to", item.get("to_step"))
                if isinstance(target, str) and target not in declared and _END_MARKER.match(target):
                    self._feature("end_* targets")
                    continue
                item = self._transition(item, item_source, paths.index(canonical, len(out)))
            self._moved(paths.index(canonical, len(out)), item_source)
            out.append(item)
        return out

    def _transition(self, value: dict, source: str, canonical: str) -> dict:
        out: dict = {}
        for name, item in value.items():
            if name in ("from_step", "to_step"):
                self._feature("from_step/to_step")
                new = name.removesuffix("_step")
                if new in value:
                    self._conflict(
                        paths.key(source, name), f"both `{new}` and `{name}` are given", f"keep only `{new}`"
                    )
                    continue
                out[new] = item
                self._moved(paths.key(canonical, new), paths.key(source, name))
            elif name == "condition":
                condition = self.condition(item, paths.key(source, name))
                if condition is not None:
                    out[name] = condition
            else:
                out[name] = item
        return out

    def condition(self, value, source: str) -> object | None:
        """The canonical-shaped form of a transition condition; None when it cannot be read."""
        if isinstance(value, str):
            if value == "always":
                self._feature("condition shorthand")
                return {"type": "always"}
            if value.startswith("parameter:") and value[len("parameter:") :].strip():
                self._feature("condition shorthand")
                return {"type": "parameter", "parameter": value[len("parameter:") :].strip()}
            self.findings.append(
                error(
                    source,
                    Code.UNKNOWN_CONDITION_TYPE,
                    f"`{value}` is not a condition",
                    'write "always", "parameter:<name>", or an object such as {"type": "cel", "expr": "..."}',
                )
            )
            return None
        if not isinstance(value, dict):
            return value
        kind = value.get("type")
        out = dict(value)
        if kind is None:
            # An empty condition means "always" already; one with only an expression,
            # a plugin or a parameter gets the type that says so.
            inferred = next((k for k in ("expr", "plugin", "parameter") if k in value), None)
            if inferred:
                self._feature("condition without type")
                out["type"] = {"expr": "cel", "plugin": "plugin", "parameter": "parameter"}[inferred]
        if isinstance(kind, str) and kind not in BUILTIN_CONDITION_TYPES and _CONDITION_PLUGIN.match(kind):
            self._feature("condition type names a plugin")
            out["type"] = "plugin"
            out["plugin"] = kind
        if kind == "expression" and isinstance(out.get("config"), dict):
            operator = out["config"].get("operator")
            if isinstance(operator, str) and operator in LEGACY_OPERATORS:
                self._feature("legacy operator names")
                out["config"] = {**out["config"], "operator": LEGACY_OPERATORS[operator]}
        return out
