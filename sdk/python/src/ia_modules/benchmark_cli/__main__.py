"""`python -m ia_modules.benchmark_cli`."""

from ia_modules.benchmark_cli.main import app

app()
