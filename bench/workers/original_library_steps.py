"""The trivial step the original library runs in the engine suite.

It lives in its own module because that library imports step classes by
module path from the pipeline JSON.
"""

from ia_modules.pipeline.core import Step


class Increment(Step):
    """Adds one to `count`: the least work a step can do."""

    async def run(self, data):
        return {"count": data.get("count", 0) + 1}
