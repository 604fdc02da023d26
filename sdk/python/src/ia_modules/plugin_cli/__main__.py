"""`python -m ia_modules.plugin_cli`, the same as the `ia-plugin` script."""

from ia_modules.plugin_cli.main import app

app(prog_name="ia-plugin")
