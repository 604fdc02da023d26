"""The original library's step API, kept so that existing step classes run unchanged.

`ia_modules.pipeline.core.Step` and `ia_modules.pipeline.services.ServiceRegistry`
are what those classes import; the Python step-runner plugin runs them.
"""
