"""`ia-modules auth …`: API keys for a deployment with authentication on.

Keys live in the auth database every service reads (IA_AUTH_DATABASE_URL, else
IA_DATABASE_URL, else `auth.db` in the data folder), so these commands run where
that database is reachable (the machine or pod of the services) and act on it
directly: issuing the first admin key cannot need a key.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ia_modules.cli.console import CLIError, FormatOption, Listing, OutputFormat, emit_json, handles_errors, stdout

if TYPE_CHECKING:
    from ia_service_kit.keys import ApiKey, ApiKeys

app = typer.Typer(
    name="auth",
    help=(
        "Issue, list and revoke API keys (stored hashed in the services' auth database).\n\n\b\nExamples:\n"
        "  ia-modules auth create-key --tenant acme --role operator\n"
        "  ia-modules auth list-keys --tenant acme\n  ia-modules auth revoke-key 3f2a9c0d1e4b5a67"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="The services' data folder, where auth.db is kept [default: IA_DATA_DIR, else .ia].",
        show_default=False,
    ),
]


def _keys(data_dir: Path | None) -> "ApiKeys":
    try:
        from ia_service_kit.keys import ApiKeys, auth_database_url
    except ImportError as error:  # the SDK alone, without the services
        raise CLIError(
            "`auth` commands need the IA Modules services installed (ia-modules-service-kit): "
            "run them where the services run"
        ) from error
    folder = data_dir or Path(os.environ.get("IA_DATA_DIR") or ".ia")
    return ApiKeys.open(auth_database_url(folder))


def _document(key: "ApiKey") -> dict[str, str | None]:
    return {
        "key_id": key.key_id,
        "tenant": key.tenant,
        "role": key.role,
        "name": key.name,
        "create_time": key.create_time.isoformat(),
        "revoke_time": key.revoke_time.isoformat() if key.revoke_time else None,
    }


@app.command("create-key")
@handles_errors
def create_key(
    tenant: Annotated[str, typer.Option("--tenant", metavar="TENANT", help="Whose resources the key reaches.")],
    role: Annotated[str, typer.Option("--role", metavar="viewer|operator|admin", help="What the key may do.")],
    name: Annotated[str, typer.Option("--name", metavar="TEXT", help="A label to recognise the key by.")] = "",
    data_dir: DataDirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Issue an API key; the key is printed once and stored only as a hash.

    \b
    Example:
      export IA_TOKEN=$(ia-modules auth create-key --tenant acme --role operator)
    """
    from ia_service_kit.keys import InvalidKeyRequest

    keys = _keys(data_dir)
    try:
        key, text = keys.create(tenant=tenant, role=role, name=name)
    except InvalidKeyRequest as error:
        raise CLIError(str(error)) from error
    finally:
        keys.close()
    if output is OutputFormat.json:
        emit_json({**_document(key), "key": text})
        return
    typer.echo(text)
    typer.echo(f"key {key.key_id}: {role} of tenant {tenant}; store it now, it is not shown again", err=True)


@app.command("revoke-key")
@handles_errors
def revoke_key(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (or the whole key).")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key: every service refuses it from its next call.

    \b
    Example:
      ia-modules auth revoke-key 3f2a9c0d1e4b5a67
    """
    keys = _keys(data_dir)
    try:
        key = keys.revoke(key_id)
    finally:
        keys.close()
    if key is None:
        raise CLIError(f"no key {key_id!r}; `ia-modules auth list-keys` shows them")
    typer.echo(f"revoked key {key.key_id} ({key.role} of tenant {key.tenant})", err=True)


@app.command("list-keys")
@handles_errors
def list_keys(
    tenant: Annotated[str, typer.Option("--tenant", metavar="TENANT", help="Only this tenant's keys.")] = "",
    data_dir: DataDirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List keys (never their secrets), oldest first.

    \b
    Example:
      ia-modules auth list-keys --tenant acme
    """
    keys = _keys(data_dir)
    try:
        found = keys.list(tenant)
    finally:
        keys.close()
    if output is OutputFormat.json:
        emit_json({"keys": [_document(key) for key in found]})
        return
    if not found:
        stdout().print("no keys")
        return
    rows = Listing("KEY ID", "TENANT", "ROLE", "NAME", "CREATED", "REVOKED")
    for key in found:
        revoked = key.revoke_time.strftime("%Y-%m-%d %H:%M") if key.revoke_time else ""
        rows.add(key.key_id, key.tenant, key.role, key.name, key.create_time.strftime("%Y-%m-%d %H:%M"), revoked)
    stdout().print(rows)
