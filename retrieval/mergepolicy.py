"""When segments are merged: a log-structured policy, as Lucene's ``LogByteSizeMergePolicy``.

Every commit adds a segment, and every question searches every segment, so small segments must
be merged as they pile up; merging everything on every commit would cost a full rewrite per
article. The policy gives each segment a level by its size (live passages), in powers of
``merge_factor`` above ``floor_passages``, and merges ``merge_factor`` consecutive segments of
one level into one of the next. Each passage is thus rewritten about log_F(N / floor) times in
its life (4-5 times at a million passages), and at most ``merge_factor - 1`` segments sit at each
level. A segment whose deleted share exceeds ``max_deleted_share`` is rewritten to drop them.
Merged segments never exceed ``max_merged_passages``, so an automatic merge costs bounded time
and memory; ``citebot index --compact`` merges everything into one regardless.

Only neighbouring segments are merged, so every segment keeps one contiguous range of ids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .commit import SegmentInfo


@dataclass(frozen=True, slots=True)
class MergePolicy:
    merge_factor: int = 10
    floor_passages: int = 2_000
    max_merged_passages: int = 250_000
    max_deleted_share: float = 0.3

    def level(self, seg: SegmentInfo) -> int:
        size = max(seg.live_passages, self.floor_passages)
        return int(math.log(size / self.floor_passages, self.merge_factor) + 1e-9)

    def plan(self, segments: Sequence[SegmentInfo]) -> list[int] | None:
        """The first run of consecutive segments (their positions) to merge now, or None."""
        for i, seg in enumerate(segments):
            # A segment that has lost most of its rows: rewrite it (with a small neighbour).
            if seg.passages and seg.deleted_passages / seg.passages > self.max_deleted_share:
                return [i]
            if seg.articles and seg.deleted_articles == seg.articles:
                return [i]
        levels = [self.level(s) for s in segments]
        i = 0
        while i < len(segments):
            j = i
            while j < len(segments) and levels[j] == levels[i]:
                j += 1
            if j - i >= self.merge_factor:
                run = list(range(i, i + self.merge_factor))
                if sum(segments[r].live_passages for r in run) <= self.max_merged_passages:
                    return run
            i = j
        return None
