"""Sweeps on a Dask cluster: connecting, checking the workers, training batches as a task graph.

`gtlib.runs.run_many` trains the batches of a sweep on a Dask cluster when one is named, with
``--scheduler`` on the command lines or ``$GTLIB_SCHEDULER``:

- ``local``: a `LocalCluster` on this machine, one single-threaded worker process per core (on two
  cores, two single-threaded torch processes run at nearly full speed each, while two 2-thread
  processes slow each other about six-fold);
- an address such as ``tcp://host:8786``: a scheduler started elsewhere (``dask scheduler``), with
  workers started from the same checkout (``dask worker tcp://host:8786 --nthreads 1 --nworkers N``);
- nothing (unset or empty): no cluster, every batch trains in the calling process.

**Where results are written.** A worker writes the runs it trains into the run store itself, as one
process does: under the store's locks, with a resume point every ``resume_every`` steps, sealed and
published atomically (`gtlib.store`). The store must therefore lie on a filesystem that the client
and every worker share, at the same path (``$GTLIB_STORE``); `run_graph` checks that each worker
sees it before it submits anything. The alternative, workers returning finished runs to the client
to write, needs no shared filesystem, but a worker killed in the middle of a batch would take the
batch's progress with it. With the store shared, Dask reruns the killed worker's task elsewhere and
the run resumes from its last resume point.

**Order.** Each batch of runs (`gtlib.runs.run_many` groups them) is one task, which depends on the
tasks that train its runs' parents: parents finish first and nothing trains twice. The store's locks
remain the guard against other processes asking for the same run.

**The same code everywhere.** A run is stored under the key of its configuration, not of the code
that trained it, so a worker with other code would store a different result under the same key
without anyone noticing. `connect` asks every worker for its `fingerprint` (gtlib's version and a
hash of its sources) and refuses a cluster where one differs or cannot import gtlib; every task
checks the fingerprint again where it runs, for workers that joined later.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Callable, NamedTuple

import torch
from distributed import Client, LocalCluster, as_completed, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from . import __version__
from .heap import keep_heap
from .paths import SCHEDULER_ENV
from .store import Store

PACKAGE = Path(__file__).resolve().parent
_ADDRESS = re.compile(r"(?:(?:tcp|tls|ucx|ws|wss)://)?[A-Za-z0-9_.\-]+:\d{1,5}")
_VALID = ("'local' (one single-threaded worker process per core on this machine), a scheduler "
          "address such as tcp://host:8786, or nothing for no cluster")
_CLIENTS: dict[str, Client] = {}  # this process's connections, by scheduler


class ClusterError(RuntimeError):
    """A scheduler that cannot be used, or a worker whose environment differs from the client's:
    one line, raised before any work is submitted (or by the task that finds it)."""


@functools.lru_cache(maxsize=None)
def fingerprint() -> str:
    """gtlib's version and a hash of every source file of the package, e.g. ``0.1.0 (code
    3fa2b1c09e4d)``: two processes with the same fingerprint train the same way."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__} (code {digest.hexdigest()[:12]})"


def _in_worker() -> bool:
    try:
        get_worker()
    except ValueError:
        return False
    return True


def connect(scheduler: str | None = None, *, n_workers: int | None = None,
            timeout: float = 10.0) -> Client | None:
    """A client of the cluster ``scheduler`` names (default: ``$GTLIB_SCHEDULER``), its workers'
    environments checked (`check_workers`); None for no cluster (``""``).

    ``"local"`` starts a `LocalCluster` of ``n_workers`` (default: one per core) single-threaded
    worker processes, closed with the client by `close`. Raises `ClusterError` for a value that is
    neither, a scheduler that does not answer within ``timeout`` seconds, or a worker that differs.
    """
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_ENV, "")
    scheduler = scheduler.strip()
    if not scheduler:
        return None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=n_workers or os.cpu_count(), threads_per_worker=1,
                               processes=True, dashboard_address=":0", env={"OMP_NUM_THREADS": "1"})
        client = Client(cluster)
        client.register_plugin(OneThread(), name="gtlib-one-thread")
    elif _ADDRESS.fullmatch(scheduler):
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ClusterError(f"no Dask scheduler answers at {scheduler} within {timeout:g} s "
                               f"({first})") from None
    else:
        raise ClusterError(f"scheduler {scheduler!r} is not valid; use {_VALID}")
    try:
        check_workers(client)
    except BaseException:
        close(client)
        raise
    return client


def use(scheduler: str | None) -> Client | None:
    """Make the cluster ``scheduler`` names (default: ``$GTLIB_SCHEDULER``) the one `client` returns
    from now on in this process and in the processes it starts (it sets ``$GTLIB_SCHEDULER``),
    connecting now, so that a bad value fails before any work (`ClusterError`)."""
    if scheduler is None:
        return client()
    found = _kept(scheduler.strip())
    os.environ[SCHEDULER_ENV] = scheduler.strip()
    return found


def client() -> Client | None:
    """This process's client of the cluster ``$GTLIB_SCHEDULER`` names, connected on first use and
    kept; None where it names none, and inside a Dask worker (a task never submits tasks)."""
    scheduler = os.environ.get(SCHEDULER_ENV, "").strip()
    if not scheduler or _in_worker():
        return None
    return _kept(scheduler)


def _kept(scheduler: str) -> Client | None:
    found = _CLIENTS.get(scheduler)
    if found is None or found.status != "running":
        found = connect(scheduler)
        if found is not None:
            _CLIENTS[scheduler] = found
    return found


def close(client: Client) -> None:
    """Close the client, and the `LocalCluster` that `connect` started for it, if any."""
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


class OneThread(WorkerPlugin):
    """One torch thread in each worker of a local cluster (one worker process per core)."""

    def setup(self, worker) -> None:
        torch.set_num_threads(1)


def _worker_fingerprint() -> str:
    return fingerprint()


def check_workers(client: Client) -> None:
    """Raise `ClusterError`, naming each worker and both fingerprints, unless every worker now in
    the cluster imports gtlib with this process's `fingerprint`."""
    expected = fingerprint()
    found = client.run(_worker_fingerprint, on_error="return")
    problems = []
    for address, value in sorted(found.items()):
        if isinstance(value, BaseException):
            problems.append(f"{address} cannot import gtlib ({value})")
        elif value != expected:
            problems.append(f"{address} runs gtlib {value}")
    if problems:
        raise ClusterError(f"Dask workers differ from this process (gtlib {expected}): "
                           f"{'; '.join(problems)}; start every worker from the same checkout and "
                           f"environment")


def check_store(client: Client, store: Store) -> None:
    """Raise `ClusterError` unless every worker sees the store's writable root (a file written here
    is there): the workers write the runs they train into it."""
    with store.probe_file() as probe:
        seen = client.run(os.path.isfile, str(probe))
    blind = sorted(address for address, found in seen.items() if not found)
    if blind:
        raise ClusterError(f"Dask worker(s) {', '.join(blind)} do not see the run store at {store.root}: "
                           f"it must be on a filesystem shared by the client and every worker, at the "
                           f"same path (GTLIB_STORE)")


class Task(NamedTuple):
    """One task of `run_graph`: ``fn(*args, **kwargs)`` once the tasks listed in ``after`` (their
    indices) have finished."""

    fn: Callable
    args: tuple
    kwargs: dict
    after: tuple[int, ...]
    label: str


def _checked(expected: str, fn: Callable, args: tuple, kwargs: dict, after: list) -> None:
    """Run on a worker: ``fn(*args, **kwargs)`` if the worker's code is the client's (``after`` only
    carries the results of the tasks this one waits for)."""
    here = fingerprint()
    if here != expected:
        raise ClusterError(f"Dask worker {get_worker().address} runs gtlib {here}, the client gtlib "
                           f"{expected}; start every worker from the same checkout and environment")
    keep_heap()
    fn(*args, **kwargs)


def run_graph(client: Client, tasks: list[Task], store: Store, progress: bool = True) -> None:
    """Run ``tasks`` on the cluster, each after the tasks it depends on, and wait for all of them.
    The first task that fails cancels the others and its error is raised here; a task whose worker
    dies is rerun by Dask on another worker."""
    check_store(client, store)
    expected, token = fingerprint(), uuid.uuid4().hex[:8]
    futures = []
    for i, task in enumerate(tasks):
        after = [futures[j] for j in task.after]
        futures.append(client.submit(_checked, expected, task.fn, task.args, task.kwargs, after,
                                     key=f"gtlib-batch-{token}-{i}", pure=False))
    labels = {future.key: task.label for future, task in zip(futures, tasks)}
    try:
        for done, future in enumerate(as_completed(futures), 1):
            future.result()
            if progress:
                print(f"{done}/{len(tasks)} batches trained on the cluster: {labels[future.key]}",
                      file=sys.stderr, flush=True)
    except ModuleNotFoundError as err:
        client.cancel(futures)
        if (err.name or "").split(".")[0] != "gtlib":
            raise
        raise ClusterError(f"a Dask worker cannot import gtlib ({err}); start every worker from the "
                           f"same checkout and environment") from None
    except BaseException:
        client.cancel(futures)
        raise
