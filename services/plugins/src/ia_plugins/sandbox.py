"""The bubblewrap sandbox every local plugin runs in.

`Sandbox.detect()` checks once, at start, that `bwrap` can create the namespaces
it needs here. `Sandbox.command()` wraps a plugin's command so that it runs:

- in new pid, ipc, uts, cgroup and mount namespaces, and a new network namespace
  (only its own loopback) unless the manifest grants `network`;
- on an empty root with read-only binds of only what it needs: /usr/lib (and the
  /lib links), the time zone database, the Python interpreter's prefix and the
  import path of the host's environment (for Python plugins) or the plugin's
  binary, the plugin's own folder, and the granted paths (read-only unless
  granted writable); with `network`, also the resolver and CA files from /etc;
- with a private /tmp (a tmpfs no larger than the memory limit), the socket
  folder bound read-write, fresh /proc and /dev;
- with a cleared environment: the handshake variables, a few basics (PATH, HOME,
  LANG, …) and the granted variables only;
- as its own session, killed when the host dies (`--die-with-parent`);
- under rlimits set by `prlimit` inside the sandbox: address space, CPU seconds,
  processes and open files, no core dumps.

Who the plugin runs as:

- host not root: bubblewrap is unprivileged and also unshares the user namespace
  (`--unshare-all`), so the plugin keeps the host's uid with no capabilities, and
  RLIMIT_NPROC counts only the sandbox's own processes;
- host root: a user namespace would map the plugin to root, for which the kernel
  ignores RLIMIT_NPROC (a fork bomb would be unbounded), so instead bubblewrap
  keeps only CAP_SETUID/CAP_SETGID and `setpriv` switches to an unprivileged uid
  of its own (from `IA_PLUGIN_UID_BASE`, default 200000), dropping every
  capability; the socket folder is handed to that uid.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ia_modules.plugin.manifest import Manifest

# Read-only in every sandbox when present: shared libraries and the time zone database.
SYSTEM_PATHS = (
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib32",
    "/lib",
    "/lib64",
    "/lib32",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
)
# Read-only in sandboxes granted the network: name resolution and TLS roots.
NETWORK_PATHS = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
)
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    # glibc reserves 64 MiB of address space per thread arena; under RLIMIT_AS
    # that, not real use, would exhaust a small memory limit.
    "MALLOC_ARENA_MAX": "2",
}
DEFAULT_UID_BASE = 200_000
_UID_SPAN = 100_000
_MIB = 1024 * 1024


class SandboxUnavailable(Exception):
    """bubblewrap (or prlimit/setpriv) is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class SandboxedCommand:
    """A command ready to run, and the uid the plugin will run as (None: the host's)."""

    argv: list[str]
    uid: int | None


def python_paths(executable: str = sys.executable) -> list[str]:
    """What a Python plugin run with `executable` reads: the interpreter's prefix, the
    virtual environment's marker and interpreter link, and the import path folders a
    fresh interpreter of that environment gets (not this process's, which tests and
    embedders extend)."""
    probe = subprocess.run(
        [executable, "-c", "import json, sys; print(json.dumps(sys.path))"],
        capture_output=True,
        text=True,
        env={},
        cwd="/",
        timeout=30,
        check=True,
    )
    found: list[str] = [sys.base_prefix]
    if sys.prefix != sys.base_prefix:
        found.append(str(Path(sys.prefix) / "pyvenv.cfg"))
        found.append(executable)
    found.extend(entry for entry in json.loads(probe.stdout) if os.path.isabs(entry) and os.path.exists(entry))
    return list(dict.fromkeys(found))


def _required_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SandboxUnavailable(f"`{name}` is not installed (Debian/Ubuntu package: bubblewrap / util-linux)")
    return path


class Sandbox:
    """Builds bubblewrap command lines for plugin processes."""

    def __init__(
        self,
        bwrap: str,
        prlimit: str,
        setpriv: str | None,
        *,
        privileged: bool,
        uid_base: int = DEFAULT_UID_BASE,
        python: str = sys.executable,
    ) -> None:
        self.bwrap = bwrap
        self.prlimit = prlimit
        self.setpriv = setpriv
        self.privileged = privileged
        self.uid_base = uid_base
        self.python = python
        self._python_paths = python_paths(python)

    @classmethod
    def detect(cls, *, uid_base: int = DEFAULT_UID_BASE) -> Sandbox:
        """Finds the tools and proves bubblewrap can create the namespaces plugins get.

        Raises SandboxUnavailable with the reason.
        """
        bwrap = _required_tool("bwrap")
        prlimit = _required_tool("prlimit")
        privileged = os.geteuid() == 0
        setpriv = _required_tool("setpriv") if privileged else None
        probe = [bwrap, "--ro-bind", "/", "/", *cls._namespace_args(privileged, network=False), "true"]
        try:
            result = subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SandboxUnavailable(f"bwrap cannot run: {error}") from None
        if result.returncode != 0:
            raise SandboxUnavailable(
                f"bwrap cannot create namespaces here: {result.stderr.strip() or result.returncode}"
            )
        return cls(bwrap, prlimit, setpriv, privileged=privileged, uid_base=uid_base)

    @staticmethod
    def _namespace_args(privileged: bool, *, network: bool) -> list[str]:
        if privileged:
            args = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
            return args if network else [*args, "--unshare-net"]
        args = ["--unshare-all", "--disable-userns"]
        return [*args, "--share-net"] if network else args

    def new_uid(self) -> int | None:
        """A fresh unprivileged uid for one plugin process (None when the host is not root).

        A uid of its own makes RLIMIT_NPROC count only that process's tasks.
        """
        return self.uid_base + secrets.randbelow(_UID_SPAN) if self.privileged else None

    def command(
        self,
        manifest: Manifest,
        command: Sequence[str],
        *,
        socket_dir: Path,
        env: Mapping[str, str],
        workdir: str,
        info_fd: int,
        uid: int | None,
    ) -> list[str]:
        """The full command line that runs `command` for `manifest` in the sandbox."""
        permissions = manifest.permissions
        limits = manifest.limits
        args = [self.bwrap, "--die-with-parent", "--new-session", "--info-fd", str(info_fd)]
        args += self._namespace_args(self.privileged, network=permissions.network)
        if self.privileged:
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        args += ["--clearenv"]
        for key, value in sorted({**BASE_ENV, **env}.items()):
            args += ["--setenv", key, value]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(limits.memory_mb * _MIB), "--perms", "1777", "--tmpfs", "/tmp"]
        mounts = _Mounts()
        for path in SYSTEM_PATHS:
            mounts.read_only(path)
        if permissions.network:
            for path in NETWORK_PATHS:
                mounts.read_only(path)
        for tool in (self.prlimit, self.setpriv):
            if tool:
                mounts.read_only(tool)
        program = command[0]
        if program == self.python:
            for path in self._python_paths:
                mounts.read_only(path)
        else:
            mounts.read_only(shutil.which(program) or program)
        if manifest.folder is not None:
            mounts.read_only(str(manifest.folder))
        for grant in permissions.paths:
            if grant.writable:
                mounts.writable(grant.path)
            else:
                mounts.read_only(grant.path)
        mounts.writable(str(socket_dir))
        args += mounts.args
        # Everything not bound writable above is read-only, the root included.
        args += ["--remount-ro", "/", "--chdir", workdir, "--"]
        if self.privileged:
            assert self.setpriv is not None and uid is not None
            args += [
                self.setpriv,
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
            ]
        args += [
            self.prlimit,
            f"--as={limits.memory_mb * _MIB}",
            f"--cpu={limits.cpu_seconds}",
            f"--nproc={limits.processes}",
            f"--nofile={limits.open_files}",
            "--core=0",
            "--",
            *command,
        ]
        return args


class _Mounts:
    """Bind arguments in a safe order.

    Parents come before children, and a read-only path inside one already bound
    is left out. Missing parents of a bind target are made first, mode 0755:
    bubblewrap would make them 0700, which an unprivileged plugin cannot
    traverse. Top-level symlinks such as /lib -> usr/lib are recreated as links.
    """

    def __init__(self) -> None:
        self._wanted: dict[str, bool] = {}

    def read_only(self, path: str) -> None:
        if os.path.lexists(path):
            self._wanted.setdefault(path, False)

    def writable(self, path: str) -> None:
        if os.path.lexists(path):
            self._wanted[path] = True

    @property
    def args(self) -> list[str]:
        args: list[str] = []
        made: set[str] = {"/"}
        bound: list[str] = []
        for path in sorted(self._wanted, key=lambda p: (p.count("/"), p)):
            writable = self._wanted[path]
            inside = any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound)
            if inside and not writable:
                continue
            if not inside:
                parts = Path(path).parent.parts
                for depth in range(2, len(parts) + 1):
                    folder = str(Path(*parts[:depth]))
                    if folder not in made:
                        made.add(folder)
                        args += ["--perms", "0755", "--dir", folder]
            made.add(path)
            bound.append(path)
            if os.path.islink(path) and os.path.dirname(path) == "/":
                args += ["--symlink", os.readlink(path), path]
            else:
                args += ["--bind" if writable else "--ro-bind", path, path]
        return args
