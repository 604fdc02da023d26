"""word_count: a step plugin that counts the words of a text.

The plugin host starts this file as its plugin.yaml says. To try it without the
host, call it through `ia_modules.plugin.PluginHarness.subprocess("plugins/word_count")`.
"""

from ia_modules.plugin import InputError, serve, step_plugin


@step_plugin(config_schema={"type": "object", "properties": {"lowercase": {"type": "boolean"}}})
def word_count(config, data, ctx):
    """Counts the words of a text."""
    text = data.get("text")
    if not isinstance(text, str):
        raise InputError("text", "expected `text`, the text to count, as a string")
    words = text.split()
    if config.get("lowercase", True):
        words = [word.lower() for word in words]
    ctx.log(f"counted {len(words)} words")
    return {"words": len(words), "unique": len(set(words))}


if __name__ == "__main__":
    serve(word_count)
