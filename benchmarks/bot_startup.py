"""How soon a freshly started ``citebot discord`` answers, on an existing index.

Starts the Discord-compatible test server from tests/fake_discord.py on 127.0.0.1, launches the
real ``citebot discord`` process pointed at it, and from the moment the process starts, sends an
``/ask`` as soon as the bot has identified on the gateway; the figure is the time until the
follow-up with the answer arrives. Median of several runs.

    python benchmarks/bot_startup.py [--index DIR] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, append_results

sys.path.insert(0, str(ROOT / "tests"))
from fake_discord import FakeDiscord

TOKEN = "bench-token-not-a-secret"


def one_run(index: Path) -> tuple[float, float]:
    fake = FakeDiscord(TOKEN).start()
    env = {**os.environ, "DISCORD_TOKEN": TOKEN, "CITEBOT_DISCORD_API_BASE": fake.api_base,
           "CITEBOT_DISCORD_GATEWAY_URL": fake.gateway_url, "CITEBOT_INDEX_DIR": str(index),
           "CITEBOT_LOG_LEVEL": "WARNING"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "discord"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(f.get("op") == 2 for f in fake.frames):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bot did not connect: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.005)
        connected = time.perf_counter() - t0
        time.sleep(0.05)  # READY and GUILD_CREATE reach the bot
        fake.dispatch("INTERACTION_CREATE", fake.slash("ask", question="What did NATO's chief say?"))
        fake.wait_calls("POST", r"/webhooks/.*", 1, timeout=60)
        answered = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        fake.stop()
    return connected, answered


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=ROOT / ".citebot" / "index")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not (args.index / "CURRENT").exists():
        print(f"no index in {args.index}; run `citebot index` first", file=sys.stderr)
        return 2
    runs = [one_run(args.index) for _ in range(args.runs)]
    conn = statistics.median(r[0] for r in runs)
    ans = statistics.median(r[1] for r in runs)
    body = (
        "| figure | value |\n| --- | --- |\n"
        f"| index | `{args.index}` |\n"
        f"| process start -> gateway IDENTIFY, median of {args.runs} | {conn:.2f} s |\n"
        f"| process start -> first /ask answered (follow-up sent), median of {args.runs} "
        f"| **{ans:.2f} s** |\n"
        f"| all runs (answered) | {', '.join(f'{r[1]:.2f}' for r in runs)} s |\n"
    )
    print(body)
    append_results("Bot start-up", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
