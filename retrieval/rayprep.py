"""Splitting and embedding on a Ray cluster, for the one writer on this machine.

Embedding is the cost of a backfill and needs no coordination, so ``RayPreparer`` hands each
round of the writer's articles to a pool of Ray actors, one per CPU (or per GPU) of the cluster.
Each actor loads the embedder once: the int8 ONNX index encoder on one core, or the same model
through sentence-transformers on CUDA where Ray gave it a GPU. The ``Prepared`` articles come
back in order to the writer (writer.py), which alone writes and commits, so the index is the
one a local build makes: the int8 encoder runs one text per call, so a vector does not depend on
which worker or batch it was made in.

Actors rather than Ray Data's ``map_batches``: the writer hands over one bounded round at a time
(memory stays bounded and it commits as it goes), and a Dataset per round would start its
executor and actor pool every round (benchmarks/ray_embed.py measures both).

Ray is an optional extra and imported only here, only when ``--ray`` is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import CitebotError, ClusterError
from .models import Article
from .prepare import LocalPreparer, Prepared

log = logging.getLogger("citebot.index")

LOCAL = "local"  # start a Ray runtime in this process with this machine's CPUs
INSTALL_HINT = "--ray needs Ray, which is not installed; run `pip install -e '.[ray]'`"
# Text per worker per round: the writer's local round (writer.BATCH_CHARS), so every worker
# gets about as much as one local build embeds at a time.
CHARS_PER_WORKER = 150_000
CONNECT_TIMEOUT_S = 5.0


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL_HINT) from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """Where a ``host:port`` or ``ray://host:port`` address listens (None for ``auto``)."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep:
        return None
    if not port.isdigit() or not host:
        raise ClusterError(f"bad Ray address {address!r}; use auto, HOST:PORT or ray://HOST:PORT")
    return host.strip("[]"), int(port)


def check_reachable(address: str) -> None:
    """Fail in one line, within seconds, when nothing listens at the address (Ray would retry
    for a minute and print its own traceback)."""
    hp = _host_port(address)
    if hp is None:
        return
    try:
        socket.create_connection(hp, timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ClusterError(
            f"cannot reach the Ray cluster at {address} ({why}); start it (`ray start --head`) "
            "or fix the address given to --ray / CITEBOT_RAY_ADDRESS"
        ) from None


class RayRuntime:
    """Connects to Ray for one build: a local runtime, or the cluster at ``address``."""

    def __init__(self, address: str = LOCAL, *, num_cpus: int | None = None) -> None:
        self.address = address or LOCAL
        self.num_cpus = num_cpus
        self._started = False

    @property
    def local(self) -> bool:
        return self.address == LOCAL

    def __enter__(self) -> RayRuntime:
        ray = import_ray()
        if ray.is_initialized():  # a caller (a test, a notebook) already connected: use that
            return self
        if not self.local:
            check_reachable(self.address)
        opts: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        if self.local:
            opts.update(address="local", num_cpus=self.num_cpus or os.cpu_count() or 1,
                        include_dashboard=False)
        else:
            opts["address"] = self.address
        try:
            ray.init(**opts)
        except ConnectionError:
            if self.address != "auto":
                raise ClusterError(f"cannot join the Ray cluster at {self.address}; check `ray status` "
                                   "there, or build without --ray") from None
            raise ClusterError("--ray auto found no running Ray cluster on this machine; start one "
                               "(`ray start --head`) or give its address") from None
        except Exception as exc:  # Ray raises RuntimeError, ValueError, ... for other faults
            where = "start a local Ray runtime" if self.local else f"join the Ray cluster at {self.address}"
            raise ClusterError(f"cannot {where} ({_first_line(exc)}); "
                               "check `ray status`, or build without --ray") from None
        self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            import_ray().shutdown()
            self._started = False


class _EmbedWorker:
    """One Ray actor: loads the embedder once, then prepares the rounds it is given."""

    def __init__(self, model: str, encoder: str, cache_dir: str | None, passage_tokens: int,
                 overlap: int, threads: int) -> None:
        import ray

        from .embedder import SentenceTransformerEmbedder, encoder_id, load_embedder

        if ray.get_gpu_ids():
            embedder: Any = SentenceTransformerEmbedder(model, device="cuda")
        else:
            # A cluster worker's own cache setting, if it has one (the writer's path means nothing there).
            cache = cache_dir or os.environ.get("CITEBOT_CACHE_DIR")
            embedder = load_embedder(model, encoder=encoder, cache_dir=Path(cache) if cache else None,
                                     purpose="index", threads=threads)
        self.encoder = encoder_id(embedder)
        self.preparer = LocalPreparer(embedder, passage_tokens, overlap)

    def describe(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()} {self.encoder}"

    def prepare(self, articles: list[Article]) -> list[Prepared]:
        return self.preparer.prepare(articles)


class RayPreparer:
    """A ``Preparer`` (prepare.py) whose work runs on Ray actors; needs a connected runtime."""

    def __init__(self, model: str, *, encoder: str = "auto", passage_tokens: int = 128,
                 overlap: int = 1, cache_dir: Path | None = None, workers: int | None = None,
                 ready_timeout_s: float = 300.0) -> None:
        ray = import_ray()
        from ray.util import ActorPool

        # Free resources, not the cluster's total: actors asking for busy CPUs would wait forever.
        free = ray.available_resources()
        gpus = int(free.get("GPU", 0))
        per_actor: dict[str, float] = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
        n = workers or gpus or max(1, int(free.get("CPU", 1)))
        actor_cls = ray.remote(**per_actor)(_EmbedWorker)
        self.actors = [
            actor_cls.remote(model, encoder, str(cache_dir) if cache_dir else None, passage_tokens,
                             overlap, 1)
            for _ in range(n)
        ]
        try:
            self.workers = ray.get([a.describe.remote() for a in self.actors], timeout=ready_timeout_s)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise ClusterError(f"{n} Ray embedding workers did not start within {ready_timeout_s:.0f} s "
                               "(the cluster may be busy or have no free CPU); check `ray status`") from None
        except Exception as exc:
            self.close()
            raise _cluster_error(exc, "start the Ray embedding workers") from None
        log.info("Ray embedding workers: %s", ", ".join(self.workers))
        self._pool = ActorPool(self.actors)
        self.batch_chars = CHARS_PER_WORKER * n

    def prepare(self, articles: Sequence[Article]) -> list[Prepared]:
        pieces = _pieces(list(articles), 2 * len(self.actors))
        try:
            done = list(self._pool.map(lambda actor, piece: actor.prepare.remote(piece), pieces))
        except Exception as exc:
            raise _cluster_error(exc, "embed on the Ray cluster") from None
        return [p for part in done for p in part]

    def close(self) -> None:
        ray = import_ray()
        for a in self.actors:
            ray.kill(a)
        self.actors = []


@contextlib.contextmanager
def ray_preparer(address: str, model: str, *, encoder: str, passage_tokens: int, overlap: int,
                 cache_dir: Path | None, workers: int | None = None) -> Iterator[RayPreparer]:
    """Connect (or start a local runtime), start the workers, and stop both afterwards."""
    with RayRuntime(address) as rt:
        # A cluster's workers keep the export in their own cache; this machine's path means nothing there.
        prep = RayPreparer(model, encoder=encoder, passage_tokens=passage_tokens, overlap=overlap,
                           cache_dir=cache_dir if rt.local else None, workers=workers)
        try:
            yield prep
        finally:
            prep.close()


def _pieces(articles: list[Article], n: int) -> list[list[Article]]:
    """Up to ``n`` runs of consecutive articles with about the same text each (order kept)."""
    total = sum(len(a.text) for a in articles)
    if not articles:
        return []
    target = max(1, total // max(1, n))
    out: list[list[Article]] = [[]]
    size = 0
    for a in articles:
        if size >= target and len(out) < n:
            out.append([])
            size = 0
        out[-1].append(a)
        size += len(a.text)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _cluster_error(exc: BaseException, doing: str) -> CitebotError:
    """What went wrong on the cluster, as the one-line error the front ends print."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, CitebotError):  # e.g. a worker's ModelError: it already names the fix
        return cause
    text = str(exc)
    for line in text.splitlines():  # an actor that died in __init__ says why further down
        if "Error:" in line and "ray." not in line.split("Error:")[0]:
            text = line.strip()
            break
    else:
        text = _first_line(exc)
    return ClusterError(f"cannot {doing} ({type(exc).__name__}: {text[:300]}); what was committed "
                        "is kept; check `ray status` and run the command again, or build without --ray")
