"""The Discord bot's client-free pieces: log redaction of interaction tokens, IDENTIFY pacing,
the thread memory in the state database, and the new settings."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest

from bot.discord_support import (
    REDACTED,
    THREAD_CONTEXT,
    BotOptions,
    IdentifyLimiter,
    RedactFilter,
    SeenSet,
    ThreadMemory,
)
from bot.settings import Settings, SettingsError, load_settings

TOKEN = "MTAxNDk.fake-bot-token.Sup3rSecretValue_XYZ"
ITOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OnNlY3JldA.x-y_z"


def _logged(*records: tuple[str, tuple[object, ...]]) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactFilter(TOKEN))
    lg = logging.getLogger("citebot.test-redact-interactions")
    lg.addHandler(handler)
    lg.propagate = False
    lg.setLevel(logging.DEBUG)
    try:
        for msg, args in records:
            lg.debug(msg, *args)
    finally:
        lg.removeHandler(handler)
    return out.getvalue()


def test_interaction_and_webhook_tokens_are_redacted_as_discord_py_logs_them() -> None:
    text = _logged(
        # discord.http: the request line, with the callback URL
        ("%s %s with %s has returned %s",
         ("POST", f"https://discord.com/api/v10/interactions/123/{ITOKEN}/callback?with_response=true",
          None, 200)),
        # discord.webhook.async_: the follow-up URL
        ("Webhook ID %s with %s %s has returned status code %s",
         ("456", "POST", f"https://discord.com/api/v10/webhooks/456/{ITOKEN}?wait=true", 200)),
        # discord.gateway: the whole event, a dict, as its repr
        ("For Shard ID %s: WebSocket Event: %s",
         (0, {"t": "INTERACTION_CREATE", "d": {"id": "1", "token": ITOKEN, "type": 2}})),
        ("json %s", ('{"token": "' + ITOKEN + '", "id": "1"}',)),
        ("bot token %s", (TOKEN,)),
    )
    assert ITOKEN not in text and TOKEN not in text
    assert text.count(REDACTED) == 5
    assert f"/interactions/123/{REDACTED}/callback?with_response=true" in text
    assert f"/webhooks/456/{REDACTED}?wait=true" in text
    assert "'id': '1'" in text  # the rest of the record is intact


def test_redaction_leaves_ordinary_lines_alone() -> None:
    line = "request 910000000000000003 ask 120ms answered=yes"
    assert _logged((line, ())).strip() == line
    assert RedactFilter("").redact(f"/webhooks/1/{ITOKEN}") == f"/webhooks/1/{REDACTED}"


def test_identify_waits_only_for_its_own_bucket() -> None:
    now = [100.0]
    limiter = IdentifyLimiter(2, clock=lambda: now[0])
    assert limiter.delay(0) == 0 and limiter.delay(1) == 0
    asyncio.run(limiter.wait(0))
    assert limiter.delay(0) == pytest.approx(5.0)
    assert limiter.delay(1) == 0  # another bucket may identify at once
    assert limiter.delay(2) == pytest.approx(5.0)  # 2 % 2 == 0: shard 0's bucket
    now[0] += 3
    assert limiter.delay(2) == pytest.approx(2.0)
    now[0] += 2
    assert limiter.delay(2) == 0
    # Discord's default concurrency of 1: every shard after the first waits its 5 s.
    single = IdentifyLimiter(1, clock=lambda: now[0])
    asyncio.run(single.wait(0))
    assert single.delay(1) == pytest.approx(5.0)


def test_identify_really_sleeps_until_the_bucket_is_free() -> None:
    limiter = IdentifyLimiter(1, interval=0.2)

    async def two() -> float:
        loop = asyncio.get_running_loop()
        await limiter.wait(0)
        t0 = loop.time()
        await limiter.wait(1)
        return loop.time() - t0

    assert asyncio.run(two()) >= 0.18


def test_thread_memory_survives_a_new_instance(tmp_path: Path) -> None:
    memory = ThreadMemory(tmp_path)
    assert memory.get(1) is None
    memory.opened(1, 10, ("What did Peskov say?",))
    memory.asked(1, "What else did he say?")
    assert memory.get(1) is not None and memory.get(1).questions == (  # type: ignore[union-attr]
        "What did Peskov say?", "What else did he say?")
    memory.close()
    again = ThreadMemory(tmp_path)
    info = again.get(1)
    assert info is not None and info.parent_id == 10
    assert info.questions == ("What did Peskov say?", "What else did he say?")
    for i in range(THREAD_CONTEXT + 5):
        again.asked(1, f"q{i}")
    assert len(again.get(1).questions) == THREAD_CONTEXT  # type: ignore[union-attr]
    again.close()
    fresh = ThreadMemory(tmp_path)
    assert fresh.get(1).questions[-1] == f"q{THREAD_CONTEXT + 4}"  # type: ignore[union-attr]
    assert fresh.get(2) is None
    fresh.close()


def test_seen_set_forgets_the_oldest() -> None:
    seen = SeenSet(size=2)
    assert seen.add(1) and not seen.add(1)
    assert seen.add(2) and seen.add(3)
    assert seen.add(1)  # forgotten, so new again


def test_discord_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CITEBOT_DISCORD_REPLY_IN", "CITEBOT_DISCORD_SHARDS", "CITEBOT_DISCORD_FEEDBACK"):
        monkeypatch.delenv(name, raising=False)
    default = BotOptions.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (default.reply_in, default.shards, default.feedback) == ("channel", None, True)
    monkeypatch.setenv("CITEBOT_DISCORD_REPLY_IN", "thread")
    monkeypatch.setenv("CITEBOT_DISCORD_SHARDS", "4")
    monkeypatch.setenv("CITEBOT_DISCORD_FEEDBACK", "false")
    opts = BotOptions.from_settings(load_settings(_env_file=None))
    assert (opts.reply_in, opts.shards, opts.feedback) == ("thread", 4, False)
    monkeypatch.setenv("CITEBOT_DISCORD_SHARDS", "Auto")
    assert BotOptions.from_settings(load_settings(_env_file=None)).shards is None


@pytest.mark.parametrize(("name", "value", "says"), [
    ("CITEBOT_DISCORD_SHARDS", "0", "use auto or a whole number of shards"),
    ("CITEBOT_DISCORD_SHARDS", "many", "use auto or a whole number of shards"),
    ("CITEBOT_DISCORD_REPLY_IN", "dm", "'channel' or 'thread'"),
])
def test_bad_discord_settings_are_one_line(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                           says: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    text = str(err.value)
    assert name in text and says in text and "\n" not in text
