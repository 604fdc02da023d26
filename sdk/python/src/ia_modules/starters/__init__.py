"""Starter projects for `ia-modules init`: one pipeline for each common shape, ready to run.

    files = starter_files("orders", "conditional", schema="../schemas/pipeline.schema.json")
    write_starter(Path("orders"), files)

Each template folder here holds `pipeline.json` and what it takes to try it:
`input.json` (run inputs) and, where they help, `mocks.json` (canned outputs for a
dry run), `answer.json` (a person's answer) and plugin code under `plugins/`. Every
template validates and dry-runs; all but `plugin` run on a stack as they are
(`plugin` needs the plugin host to serve its plugin).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from ia_modules.definition.names import PIPELINE_NAME, pipeline_name_for

__all__ = ["TEMPLATES", "StarterError", "StarterFile", "schema_reference", "starter_files", "write_starter"]

TEMPLATES: dict[str, str] = {
    "simple": "two steps in a row",
    "conditional": "an if/else on a step's output, joined again",
    "parallel": "two branches at once, then a join",
    "loop": "a bounded polling loop with a pause between polls",
    "hitl": "a person approves or rejects (a human_input step)",
    "plugin": "a step plugin of your own, in Python",
}
"""Template name -> what the pipeline shows."""

SCHEMA_FILE = PurePosixPath("schemas/pipeline.schema.json")
"""Where a project keeps the JSON Schema of definitions, which `$schema` points at."""


class StarterError(ValueError):
    """A starter cannot be made: a bad name, an unknown template, or files in the way."""


@dataclass(frozen=True)
class StarterFile:
    """One file of a starter project."""

    path: PurePosixPath
    """Relative to the project folder."""
    content: str


def _template_files(template: str) -> list[tuple[PurePosixPath, str]]:
    root = resources.files(__name__).joinpath(template)
    found: list[tuple[PurePosixPath, str]] = []
    pending = [(root, PurePosixPath())]
    while pending:
        folder, relative = pending.pop()
        for entry in folder.iterdir():
            if entry.name.startswith((".", "__")):
                continue
            if entry.is_dir():
                pending.append((entry, relative / entry.name))
            else:
                found.append((relative / entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _readme(name: str, template: str, description: str, names: set[str]) -> str:
    dry_run = "ia-modules dry-run pipeline.json --input input.json"
    if "mocks.json" in names:
        dry_run += " --mock mocks.json"
    lines = [
        f"# {name}",
        "",
        description,
        "",
        f"Made with `ia-modules init {name} --template {template}`. Try it:",
        "",
        "```sh",
        "ia-modules validate pipeline.json",
        f"{dry_run} --show-data",
        "ia-modules visualize pipeline.json --output pipeline.svg",
        "ia-modules docs pipeline.json --output PIPELINE.md",
        "ia-modules up",
        "ia-modules run pipeline.json --input input.json",
    ]
    if "answer.json" in names:
        lines.append("ia-modules resume RUN --data @answer.json   # RUN: the run id `run` printed")
    lines.append("```")
    if template == "plugin":
        lines += [
            "",
            "The `count` step runs the `word_count` plugin in `plugins/word_count`. A run needs",
            "the plugin host to serve it: start the stack with `IA_PLUGINS_DIR=plugins`.",
            "Until then, the dry run above uses the outputs in `mocks.json`.",
        ]
    return "\n".join(lines) + "\n"


def starter_files(name: str, template: str, *, schema: str = str(SCHEMA_FILE)) -> list[StarterFile]:
    """The files of a new project `name` made from `template`; `schema` is the `$schema` to reference.

    Raises StarterError for a name that is not a valid pipeline name or an unknown template.
    """
    if template not in TEMPLATES:
        raise StarterError(f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}")
    if not PIPELINE_NAME.match(name):
        suggestion = pipeline_name_for(name)
        hint = f"; try {suggestion!r}" if suggestion else ""
        raise StarterError(
            f"{name!r} is not a valid pipeline name: use lowercase letters, digits, `-`, `_` and `.`, "
            f"starting with a letter{hint}"
        )
    files: list[StarterFile] = []
    description = ""
    for path, content in _template_files(template):
        if path.name == "pipeline.json" and len(path.parts) == 1:
            definition = json.loads(content)
            definition["name"] = name
            description = definition.get("description", "")
            content = json.dumps({"$schema": schema, **definition}, indent=2, ensure_ascii=False) + "\n"
        files.append(StarterFile(path, content))
    names = {str(f.path) for f in files}
    files.append(StarterFile(PurePosixPath("README.md"), _readme(name, template, description, names)))
    return files


def schema_reference(directory: Path, *, project_root: Path | None = None) -> str:
    """The `$schema` of a pipeline written in `directory`: a relative path to the schema file.

    The nearest `schemas/pipeline.schema.json` above `directory` wins; without one, the
    path points where `project_root` (default: the current folder) would keep it.
    """
    directory = directory.resolve()
    for folder in (directory, *directory.parents):
        if (folder / SCHEMA_FILE).is_file():
            return Path(os.path.relpath(folder / SCHEMA_FILE, directory)).as_posix()
    root = (project_root or Path.cwd()).resolve()
    return Path(os.path.relpath(root / SCHEMA_FILE, directory)).as_posix()


def write_starter(directory: Path, files: list[StarterFile], *, force: bool = False) -> list[Path]:
    """Writes `files` under `directory` and returns their paths.

    Refuses (StarterError) to overwrite an existing file unless `force`.
    """
    if directory.exists() and not directory.is_dir():
        raise StarterError(f"{directory} exists and is not a folder")
    targets = [directory / Path(f.path) for f in files]
    if not force:
        existing = [str(t) for t in targets if t.exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise StarterError(f"{existing[0]} already exists{more}; use --force to overwrite")
    for target, file in zip(targets, files, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content, encoding="utf-8")
    return targets
