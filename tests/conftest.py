"""Fixtures every suite may use: a throwaway PostgreSQL cluster (tests/postgres_testing.py)."""

pytest_plugins = ["postgres_testing"]
