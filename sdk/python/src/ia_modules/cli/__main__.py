"""`python -m ia_modules.cli`, the same as the `ia-modules` script."""

from ia_modules.cli.main import app

app(prog_name="ia-modules")
