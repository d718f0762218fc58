"""A real HTTP server on 127.0.0.1 serving feeds and article pages built from real articles.

``Site.pages`` maps a path to (status, content type, body, extra headers); the handler adds
ETag and Last-Modified to every 200 and honours If-None-Match, and counts requests per path.
Special paths: ``/slow/...`` answers after ``slow_seconds``; ``/loop/N`` redirects to
``/loop/N+1`` and back.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Site:
    pages: dict[str, tuple[int, str, bytes, dict[str, str]]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    slow_seconds: float = 3.0
    base: str = ""

    def put(self, path: str, body: bytes | str, ctype: str = "text/html", status: int = 200,
            headers: dict[str, str] | None = None) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = (status, ctype, data, headers or {})
        return self.base + path


def article_html(art: dict[str, Any], url: str, title: str | None = None, extra: str = "") -> str:
    t = html.escape(title or art["title"])
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in art["text"].split("\n\n") if p.strip())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{t}</title>"
            f"<link rel='canonical' href='{url}'>"
            f"<meta property='article:published_time' content='{art.get('published') or ''}'>"
            f"</head><body><article><h1>{t}</h1>{paras}{extra}</article></body></html>")


def rss(items: list[tuple[str, str, str | None]]) -> str:
    body = "".join(f"<item><title>{html.escape(t)}</title><link>{html.escape(u)}</link>"
                   f"<guid>{html.escape(u)}</guid></item>" for t, u, _ in items)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>{body}</channel></rss>"


def atom(items: list[tuple[str, str, str | None]]) -> str:
    body = "".join(f"<entry><title>{html.escape(t)}</title><link href='{html.escape(u)}'/>"
                   f"<id>{html.escape(u)}</id><updated>{d or '2020-01-01'}T00:00:00Z</updated></entry>"
                   for t, u, d in items)
    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>A</title><id>urn:a</id><updated>2020-01-01T00:00:00Z</updated>{body}</feed>")


def json_feed(items: list[tuple[str, str, str | None]]) -> str:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J",
                       "items": [{"id": u, "url": u, "title": t} for t, u, _ in items]})


def sitemap(items: list[tuple[str, str, str | None]]) -> str:
    body = "".join(
        f"<url><loc>{html.escape(u)}</loc><news:news><news:publication_date>{d}"
        f"</news:publication_date><news:title>{html.escape(t)}</news:title></news:news></url>"
        for t, u, d in items)
    return ("<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            f"xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{body}</urlset>")


def serve(site: Site) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path
            site.hits[path] = site.hits.get(path, 0) + 1
            if path.startswith("/slow/"):
                time.sleep(site.slow_seconds)
            if path.startswith("/loop/"):
                n = int(path.rsplit("/", 1)[1])
                self.send_response(302)
                self.send_header("Location", f"/loop/{1 - n}")
                self.end_headers()
                return
            if path not in site.pages:
                self.send_error(404)
                return
            status, ctype, body, headers = site.pages[path]
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if status in (301, 302):
                self.end_headers()
                return
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(usegmt=True))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
