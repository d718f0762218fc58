from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

from bot.settings import Settings, SettingsError, load_settings


def _env_names() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        m = re.match(r"^([A-Z_]+)=", line)
        if m:
            names.add(m.group(1))
    return names


def _field_names() -> set[str]:
    out = set()
    for name in Settings.model_fields:
        out.add("DISCORD_TOKEN" if name == "discord_token" else f"CITEBOT_{name.upper()}")
    return out


def test_env_example_lists_every_field_with_a_comment() -> None:
    assert _env_names() == _field_names()
    lines = (ROOT / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            assert lines[i - 1].startswith("#"), f"{line} has no comment above it"


def test_env_example_values_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _field_names():
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.top_k == 5 and s.articles_dir == Path("seeds")


def test_explicit_values_and_channel_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_DISCORD_CHANNELS", "12, 34")
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token")
    s = load_settings(top_k=7)
    assert s.top_k == 7 and s.discord_channels == [12, 34]
    assert s.discord_token is not None and "secret-token" not in repr(s)


def test_invalid_values_name_the_field_and_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_TOP_K", "0")
    with pytest.raises(SettingsError, match=r"CITEBOT_TOP_K: .*greater than or equal to 1"):
        load_settings()
    monkeypatch.setenv("CITEBOT_TOP_K", "3")
    monkeypatch.setenv("CITEBOT_LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError, match=r"CITEBOT_LOG_LEVEL"):
        load_settings()
