"""One module per benchmark suite, each with `run(quick: bool) -> dict`."""
