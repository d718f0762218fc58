"""Crash points for the crash-safety tests: ``CITEBOT_CRASH_AT=<name>`` kills the process with
SIGKILL at that point of a write, as SQLite's tests inject faults, so that "killed right after
the segment was renamed but before the commit" is a test, not a race. Unset, it costs one
dictionary lookup per commit step.
"""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("CITEBOT_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
