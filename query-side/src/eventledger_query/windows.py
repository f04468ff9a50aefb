"""The windowed figures the stream-processing job keeps in Redis (transfers per minute, volume per currency)."""

from __future__ import annotations

from typing import Any

from redis import Redis


class WindowFigures:
    """Reads the latest windows the stream job published (see docs/adr/0010)."""

    def __init__(self, client: Redis, base: str) -> None:
        self._client = client
        self._key = f"{base}:windows:latest"

    def latest(self) -> dict[str, Any]:
        raw: dict[str, str] = self._client.hgetall(self._key)  # type: ignore[assignment]
        figures: dict[str, Any] = {}
        for name, value in raw.items():
            figures[name] = int(value) if value.lstrip("-").isdigit() else value
        return figures
