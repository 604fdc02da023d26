"""`ServiceRegistry`: the services a step class reaches through `self.services`.

The same small container as in the original library: steps look services up by
name (`self.services.get("database")`) and get None for one nobody registered.
"""

from __future__ import annotations

from typing import Any


class ServiceRegistry:
    """Named services for steps: `register(name, service)`, `get(name)`, `has(name)`."""

    def __init__(self) -> None:
        self._services: dict[str, Any] = {}

    def register(self, name: str, service: Any) -> None:
        """Makes `service` available as `name`, replacing any service of that name."""
        self._services[name] = service

    def get(self, name: str) -> Any | None:
        """The service registered as `name`, or None."""
        return self._services.get(name)

    def has(self, name: str) -> bool:
        """Whether a service is registered as `name`."""
        return name in self._services

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._services)

    async def cleanup_all(self) -> None:
        """Awaits `cleanup()` on every service that has one."""
        for service in self._services.values():
            cleanup = getattr(service, "cleanup", None)
            if cleanup is not None:
                result = cleanup()
                if hasattr(result, "__await__"):
                    await result
