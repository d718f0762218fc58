"""Pieces of the Discord bot that need no client: options, the per-user cooldown, and the log
filter that keeps the token out of every log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import render_discord as render

if TYPE_CHECKING:
    from .settings import Settings


# -- secrets in logs ----------------------------------------------------------------------
class RedactFilter(logging.Filter):
    """Replaces the token in a record's message, arguments and traceback. Nothing is meant
    to log it; this catches the day something does (an echoed header, a library's repr)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def redact(self, text: str) -> str:
        return text.replace(self.secret, "[redacted]") if self.secret else text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secret:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = str(record.msg)
        if self.secret in message:
            record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so the redacted text is what gets printed.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install_redaction(secret: str) -> Callable[[], None]:
    """Put a ``RedactFilter`` on every handler that exists now; returns the undo."""
    filt = RedactFilter(secret)
    known = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(x for x in known if isinstance(x, logging.Logger))]
    handlers = {h for lg in loggers for h in lg.handlers}
    for h in handlers:
        h.addFilter(filt)

    def remove() -> None:
        for h in handlers:
            h.removeFilter(filt)

    return remove


# -- options ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BotOptions:
    guild_id: int | None = None
    channels: frozenset[int] = frozenset()
    cooldown_seconds: float = 5.0
    cooldown_burst: int = 3
    sync: bool = False
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str | None = None
    sources_per_page: int = render.SOURCES_PER_PAGE

    @classmethod
    def from_settings(cls, settings: Settings, *, sync: bool = False) -> BotOptions:
        return cls(
            guild_id=settings.discord_guild_id, channels=frozenset(settings.discord_channels),
            cooldown_seconds=settings.discord_cooldown_seconds,
            cooldown_burst=settings.discord_cooldown_burst, sync=sync,
            api_base=settings.discord_api_base.rstrip("/"),
            gateway_url=settings.discord_gateway_url or None,
            sources_per_page=render.SOURCES_PER_PAGE,
        )


class Cooldown:
    """Per-user token bucket: ``burst`` requests at once, then one more every ``seconds``."""

    def __init__(self, seconds: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.burst, self.clock = seconds, max(1, burst), clock
        self._buckets: dict[int, tuple[float, float]] = {}

    def hit(self, user_id: int) -> float:
        """0 when the request may go ahead (and is counted), else the seconds to wait."""
        if self.seconds <= 0:
            return 0.0
        now = self.clock()
        if len(self._buckets) > 10_000:  # forget users whose bucket has refilled anyway
            full = self.seconds * self.burst
            self._buckets = {u: b for u, b in self._buckets.items() if now - b[1] < full}
        tokens, last = self._buckets.get(user_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) / self.seconds)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, now)
            return 0.0
        self._buckets[user_id] = (tokens, now)
        return (1 - tokens) * self.seconds
