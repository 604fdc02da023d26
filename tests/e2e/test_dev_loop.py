"""Hot reload (`ia-modules dev DIR`) against the real stack: pipelines pushed on save,
plugins restarted on save and used by the next run, broken files kept out, and runs
in flight finishing on the revision they started with."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ia.executor.v1 import message_pb2 as executor_messages
from ia_modules.client import Client, to_dict
from ia_modules.dev_loop import DevEvent, DevLoop, Outcome
from ia_modules.starters import starter_files, write_starter

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

_LINE_TIMEOUT_S = 90


class DevProcess:
    """`ia-modules dev DIR` as a child process; its stdout lines arrive on a queue."""

    def __init__(self, directory: Path, endpoint: str) -> None:
        env = {**os.environ, "IA_ENDPOINT": endpoint, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "ia_modules.cli", "dev", str(directory)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str) -> list[str]:
        """The lines up to and including the next one containing `text`."""
        block = []
        while True:
            try:
                line = self.lines.get(timeout=_LINE_TIMEOUT_S)
            except queue.Empty:
                raise AssertionError(f"no line with {text!r}; saw {self.seen}") from None
            self.seen.append(line)
            block.append(line)
            if text in line:
                return block

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def project(tmp_path: Path, pipeline_name: str) -> tuple[Path, str]:
    """The `plugin` starter, with a plugin name no other test uses (the plugin host is shared)."""
    plugin = f"wc_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "project"
    files = starter_files(pipeline_name, "plugin")
    write_starter(folder, files)
    for path in folder.rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace("word_count", plugin))
    (folder / "plugins" / "word_count").rename(folder / "plugins" / plugin)
    return folder, plugin


@pytest.fixture
def dev(project: tuple[Path, str], endpoint: str) -> Iterator[DevProcess]:
    running = DevProcess(project[0], endpoint)
    yield running
    running.stop()


def _words(client: Client, name: str) -> int:
    run = client.wait_run(client.start_run(name, inputs={"text": "the cat saw the dog"}).run_id)
    assert run.state == executor_messages.RUN_STATE_SUCCEEDED, run.error
    return to_dict(run.outputs)["words"]


def test_saving_pushes_pipelines_restarts_plugins_and_keeps_broken_files_out(
    dev: DevProcess, project: tuple[Path, str], client: Client, pipeline_name: str
) -> None:
    folder, plugin = project
    started = dev.until("watching")
    assert f"restarted plugin {plugin} ({folder / 'plugins' / plugin})" in started
    assert f"pushed {pipeline_name} revision 1 ({folder / 'pipeline.json'})" in started
    assert _words(client, pipeline_name) == 5

    code = folder / "plugins" / plugin / "plugin.py"
    code.write_text(code.read_text().replace('"words": len(words)', '"words": len(words) * 10'))
    dev.until(f"restarted plugin {plugin}")
    assert _words(client, pipeline_name) == 50

    pipeline_file = folder / "pipeline.json"
    definition = json.loads(pipeline_file.read_text())
    pipeline_file.write_text(json.dumps({**definition, "description": "Counts words, ten times over."}, indent=2))
    dev.until(f"pushed {pipeline_name} revision 2")

    broken = json.loads(pipeline_file.read_text())
    broken["steps"][0]["inputs"]["text"] = "{{ parameters.txt }}"
    pipeline_file.write_text(json.dumps(broken, indent=2))
    block = dev.until("not pushed")
    finding = dev.until("UNKNOWN_PARAMETER")[-1]
    assert block[-1] == f"not pushed {pipeline_file}; kept {pipeline_name} revision 2"
    assert finding.startswith(f"{pipeline_file}:") and "steps[0].inputs.text" in finding
    assert client.get_pipeline(pipeline_name).revision == 2

    pipeline_file.write_text("{ \"name\": \"" + pipeline_name + "\", \"steps\": [")
    assert dev.until("not pushed")[-1] == f"not pushed {pipeline_file}; kept {pipeline_name} revision 2"
    assert "INVALID_JSON" in dev.until("INVALID_JSON")[-1]


def test_a_run_in_flight_finishes_on_the_revision_it_started_with(
    tmp_path: Path, client: Client, endpoint: str, example, pipeline_name: str
) -> None:
    pipeline_file = tmp_path / "approval.json"
    definition = example("approval.json", pipeline_name)
    pipeline_file.write_text(json.dumps(definition))
    events: list[DevEvent] = []
    loop = DevLoop(tmp_path, client, endpoint, events.append)

    loop.sync_all()
    run = client.start_run(pipeline_name, inputs={"title": "Books", "amount": 40})
    assert client.wait_run(run.run_id).state == executor_messages.RUN_STATE_WAITING_FOR_INPUT
    changed = {**definition, "outputs": {"title": "{{ draft.title }}", "changed": True}}
    pipeline_file.write_text(json.dumps(changed))
    loop.changed([pipeline_file])
    [task] = client.list_human_tasks(run_id=run.run_id)
    client.submit_human_input(task.task_id, {"approved": True})
    finished = client.wait_run(run.run_id)
    fresh = client.wait_run(client.start_run(pipeline_name, inputs={"title": "Pens", "amount": 5}).run_id)

    assert [(e.outcome, e.revision) for e in events] == [(Outcome.PUSHED, 1), (Outcome.PUSHED, 2)]
    assert (finished.revision, to_dict(finished.outputs)) == (1, {"title": "Books", "approved": True})
    assert fresh.revision == 2 and fresh.state == executor_messages.RUN_STATE_WAITING_FOR_INPUT


def test_a_plugin_that_does_not_start_is_reported_and_input_files_are_not_pipelines(
    tmp_path: Path, client: Client, endpoint: str
) -> None:
    plugin = tmp_path / "plugins" / "broken"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text("name: broken\nversion: 1.0.0\n")
    (tmp_path / "input.json").write_text('{"text": "not a pipeline"}')
    events: list[DevEvent] = []
    loop = DevLoop(tmp_path, client, endpoint, events.append)

    loop.sync_all()

    assert [(e.outcome, e.path) for e in events] == [(Outcome.FAILED, plugin)]
    assert "plugin.yaml" in events[0].message
