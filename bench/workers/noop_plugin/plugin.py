"""A condition and a step that do nothing: the cost of a plugin call itself."""

from ia_modules.plugin import condition_plugin, serve, step_plugin


@condition_plugin
def noop_condition(config, data, ctx):
    """Always true."""
    return True


@step_plugin
def noop_step(config, data, ctx):
    """An empty output."""
    return {}


if __name__ == "__main__":
    serve(noop_condition, noop_step)
