"""`ia-modules certs dev`: a development CA and certificates for TLS and mutual TLS."""

from pathlib import Path
from typing import Annotated

import typer

from ia_modules.cli.console import CLIError, FormatOption, OutputFormat, emit_json, handles_errors, stdout

app = typer.Typer(
    name="certs",
    help=(
        "Certificates for TLS between clients, Envoy and the services.\n\n\b\nExample:\n"
        "  ia-modules certs dev --out .ia/tls"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("dev")
@handles_errors
def dev_command(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Where to write the files.")] = Path(".ia/tls"),
    names: Annotated[
        list[str] | None,
        typer.Option(
            "--name", metavar="NAME", help="A DNS name or IP of the server certificate (repeat; replaces the defaults)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files already there.")] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Make a development CA, a server certificate and a client certificate.

    The server certificate names localhost, 127.0.0.1 and the service names of
    Compose and Kubernetes; every service presents it, as server and as client.
    Not for production: the CA's key is written beside the certificates.

    \b
    Example:
      ia-modules certs dev --out .ia/tls
      IA_TLS_CERT=.ia/tls/server.crt IA_TLS_KEY=.ia/tls/server.key IA_TLS_CA=.ia/tls/ca.crt ia-modules up
    """
    from ia_modules.certificates import DEFAULT_SERVER_NAMES, write_dev_certificates

    try:
        files = write_dev_certificates(out, server_names=names or DEFAULT_SERVER_NAMES, overwrite=force)
    except FileExistsError as error:
        raise CLIError(f"{error}; pass --force to replace the certificates in {out}") from None
    except OSError as error:
        raise CLIError(f"cannot write to {out}: {error.strerror or error}") from None
    document = {
        "ca_cert": str(files.ca_cert),
        "ca_key": str(files.ca_key),
        "server_cert": str(files.server_cert),
        "server_key": str(files.server_key),
        "client_cert": str(files.client_cert),
        "client_key": str(files.client_key),
        "environment": {
            "IA_TLS_CERT": str(files.server_cert),
            "IA_TLS_KEY": str(files.server_key),
            "IA_TLS_CA": str(files.ca_cert),
        },
    }
    if output is OutputFormat.json:
        emit_json(document)
        return
    console = stdout()
    console.print(f"wrote a development CA and certificates to {out}", markup=False)
    console.print("services and Envoy (mutual TLS):", markup=False)
    for variable, value in document["environment"].items():
        console.print(f"  export {variable}={value}", markup=False)
    console.print(
        f"clients: IA_TLS_CA={files.ca_cert} IA_TLS_CERT={files.client_cert} IA_TLS_KEY={files.client_key}",
        markup=False,
    )
