"""The HTTP client: one aiohttp session with citebot's limits, and every hop SSRF-checked.

Redirects are followed here, not by aiohttp, so each hop's URL passes ``check_url`` and its
host the guarded resolver (``urlguard.py``) before anything is sent to it. A response is read
in chunks and abandoned past ``max_bytes``, so a huge or endless body costs at most that much.
Every failure is a ``FetchError`` whose message is one line naming the URL and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urljoin

from .errors import FetchError, UnsafeURLError
from .urlguard import Allowed, check_url, guarded_resolver

USER_AGENT = "citebot/0.1 (+https://github.com/citebot/citebot)"
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class FetchConfig:
    # True: any address; networks: only those besides the public web (see urlguard.check_ip).
    allow_private: bool | Allowed = False
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    user_agent: str = USER_AGENT


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # after redirects
    status: int
    body: bytes
    content_type: str  # lower case, no parameters; "" when the server sent none
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _mb(n: int) -> str:
    return f"{n / 1e6:g} MB"


class Fetcher:
    """``async with Fetcher(config) as f: await f.get(url, accept=...)``."""

    def __init__(self, config: FetchConfig | None = None) -> None:
        self.config = config or FetchConfig()
        self._session: Any = None

    async def __aenter__(self) -> Fetcher:
        import aiohttp

        c = self.config
        connector = aiohttp.TCPConnector(resolver=guarded_resolver(c.allow_private), limit=16)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=c.connect_timeout,
                                        sock_read=c.read_timeout)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                              headers={"User-Agent": c.user_agent})
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._session.close()

    async def get(self, url: str, *, accept: tuple[str, ...] = (), etag: str | None = None,
                  last_modified: str | None = None, what: str = "page") -> Response:
        """GET ``url``; ``accept``: content types (prefixes such as ``"text/"`` allowed) the
        caller reads, others are a ``FetchError``. With ``etag``/``last_modified`` a 304 is a
        ``Response`` with ``not_modified`` and no body."""
        import aiohttp

        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = check_url(url, self.config.allow_private)
        seen = {current}
        for _hop in range(self.config.max_redirects + 1):
            try:
                async with self._session.get(current, headers=headers, allow_redirects=False) as r:
                    if r.status in _REDIRECTS and "Location" in r.headers:
                        nxt = check_url(urljoin(current, r.headers["Location"]), self.config.allow_private)
                        if nxt in seen:
                            raise FetchError(f"{what} {url}: redirect loop (back to {nxt})")
                        seen.add(nxt)
                        current = nxt
                        continue
                    return await self._read(url, current, r, accept, what)
            except (UnsafeURLError, FetchError):
                raise
            except TimeoutError:
                raise FetchError(f"{what} {url}: timed out (no answer within "
                                 f"{self.config.read_timeout:g} s)") from None
            except aiohttp.ClientError as exc:
                cause = exc.__cause__ or exc.__context__
                if isinstance(cause, UnsafeURLError):
                    raise cause from None
                raise FetchError(f"{what} {url}: cannot connect ({_one_line(exc)})") from None
        raise FetchError(f"{what} {url}: more than {self.config.max_redirects} redirects")

    async def _read(self, url: str, final: str, r: Any, accept: tuple[str, ...], what: str) -> Response:
        ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        etag, modified = r.headers.get("ETag"), r.headers.get("Last-Modified")
        if r.status == 304:
            return Response(final, 304, b"", ctype, etag, modified)
        if r.status >= 400:
            raise FetchError(f"{what} {url}: HTTP {r.status} {r.reason or ''}".rstrip())
        if accept and ctype and not any(ctype.startswith(a) for a in accept):
            kind = "a PDF" if ctype == "application/pdf" else f"{ctype}"
            raise FetchError(f"{what} {url}: serves {kind}, not a {what} citebot reads")
        limit = self.config.max_bytes
        declared = r.content_length
        if declared is not None and declared > limit:
            raise FetchError(f"{what} {url}: {_mb(declared)}, over the {_mb(limit)} limit")
        chunks, size = [], 0
        async for chunk in r.content.iter_chunked(65536):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"{what} {url}: over the {_mb(limit)} limit; not read further")
            chunks.append(chunk)
        return Response(final, r.status, b"".join(chunks), ctype, etag, modified)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
