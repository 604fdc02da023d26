"""How the CLI answers: results on stdout, problems on stderr, meaningful exit codes.

Results go to stdout, as text for people or as exactly one JSON document with
`--format json`. A problem with the user's input is one line on stderr and a
non-zero exit, never a traceback (unless `--debug`).
"""

import enum
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ia_modules.client import Client


class OutputFormat(enum.StrEnum):
    """What a command prints: text for people, one JSON document for scripts."""

    text = "text"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", metavar="text|json", help="text for people, json for scripts.")
]


class ExitCode(enum.IntEnum):
    """The exit codes of every command."""

    OK = 0
    # Invalid input, findings with errors, or a run that did not succeed.
    FAILED = 1
    # A command line that does not parse (click's own code).
    USAGE = 2
    # A run that paused for human input.
    WAITING_FOR_INPUT = 3
    # Ctrl-C, as shells report SIGINT.
    INTERRUPTED = 130


class CLIError(Exception):
    """A problem the user can fix: printed as one line on stderr, then exit."""

    def __init__(self, message: str, exit_code: int = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Settings:
    """The global options, set by the main callback on every invocation."""

    debug: bool = False
    endpoint: str | None = None
    timeout_s: float | None = None
    token: str | None = None


settings = Settings()

_PIPED_WIDTH = 200

F = TypeVar("F", bound=Callable[..., Any])


def connect() -> "Client":
    """A client for the endpoint the global options (or IA_ENDPOINT) name."""
    from ia_modules.client import DEFAULT_TIMEOUT_S, Client

    return Client(settings.endpoint, timeout=settings.timeout_s or DEFAULT_TIMEOUT_S, token=settings.token)


def stdout() -> "Console":
    """A Rich console for results; no wrapping, so lines stay greppable."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        # Piped output is read by programs: do not squeeze tables to 80 columns.
        console.width = _PIPED_WIDTH
    return console


def stderr() -> "Console":
    """A Rich console on stderr, for progress and notes that are not results."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


_STATE_STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "TIMED_OUT": "bold red",
    "CANCELLED": "yellow",
    "SKIPPED": "dim",
    "RUNNING": "cyan",
    "RETRYING": "magenta",
    "WAITING": "bold yellow",
    "WAITING_FOR_INPUT": "bold yellow",
}


def styled(state: str) -> "Text":
    """A run or step state name, coloured by how it went."""
    from rich.text import Text

    return Text(state, style=_STATE_STYLE.get(state, ""))


def line(*parts: "str | Text | tuple[str, str]") -> "Text":
    """Text joined from plain strings (never read as markup), Text and (text, style) pairs."""
    from rich.text import Text

    return Text.assemble(*parts)


class Listing:
    """A borderless table, like `kubectl get`: easy to read and to grep.

    Cells are shown as written: a name like `[x]` is never read as Rich markup.
    """

    def __init__(self, *columns: str, title: "str | Text | None" = None) -> None:
        from rich.table import Table

        self.table: Table = Table(box=None, pad_edge=False, header_style="bold", title=title, title_justify="left")
        for column in columns:
            self.table.add_column(column)

    def add(self, *cells: "str | Text") -> None:
        """Adds a row; plain strings stay plain."""
        from rich.text import Text

        self.table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))

    def __rich__(self) -> "Table":
        return self.table


def emit_json(document: Any) -> None:
    """Prints one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def note(message: str) -> None:
    """A line for people on stderr, kept apart from the results on stdout."""
    typer.echo(message, err=True)


def _describe(error: Exception) -> tuple[str, int]:
    """The one line (or short block) to print for an error, and the exit code."""
    if isinstance(error, CLIError):
        return str(error), error.exit_code
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}", ExitCode.FAILED
    errors_module = sys.modules.get("ia_modules.errors")
    if errors_module is not None and isinstance(error, errors_module.IAError):
        return str(error), ExitCode.FAILED
    return (
        f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)",
        ExitCode.FAILED,
    )


def handles_errors(command: F) -> F:
    """Turns the errors a command raises into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            note("interrupted")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except Exception as error:
            if settings.debug:
                raise
            message, code = _describe(error)
            typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
            raise typer.Exit(code) from None

    return wrapper  # type: ignore[return-value]
