"""Spread a drizzled-PSF run over worker processes or a Dask cluster.

The sources are split into one contiguous chunk per worker; every worker opens the
exposures itself, prepares each exposure's PSF model once and drizzles its chunk
(`spike.workflow.drizzle_sources`); the chunks are then put back together in the input
order. Each source's result depends only on the source, so a parallel run gives the same
product as a serial one.

Schedulers (``scheduler`` step parameter):

* ``"processes"`` or ``"processes:N"``: N local processes (default: the CPU count), started
  with ``spawn``;
* ``"dask"`` or ``"dask:N"``: a local Dask cluster of N single-threaded worker processes
  (default 2), created for the run and closed afterwards;
* ``"tcp://host:port"`` (any Dask scheduler address): an existing cluster, one chunk per
  worker. Workers must see the input files at the same paths.

Local workers (processes and the local Dask cluster) are started with ``spawn``, which
normally re-runs the caller's ``__main__`` script in every worker: a script calling spike
at top level, without an ``if __name__ == "__main__":`` guard, would then fail with
multiprocessing's bootstrapping error. Workers need nothing from that script (they run
spike's own functions on files), so spike starts them without it (`_workers_skip_main`).
"""

import copy
import logging
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from spike.coadd import merge_products
from spike.workflow import drizzle_sources

__all__ = ["parse_scheduler", "drizzle_in_parallel"]

log = logging.getLogger(__name__)


def parse_scheduler(text):
    """Return ``(kind, value)``: ``("processes", n)``, ``("dask", n)`` or ``("address", url)``."""
    text = str(text).strip()
    if "://" in text:
        return "address", text
    kind, _, count = text.partition(":")
    kind = kind.lower()
    if kind not in ("processes", "dask"):
        msg = (f"scheduler={text!r}: expected 'processes', 'processes:N', 'dask', 'dask:N' or "
               "a Dask scheduler address such as 'tcp://127.0.0.1:8786'")
        raise ValueError(msg)
    default = (os.cpu_count() or 2) if kind == "processes" else 2
    try:
        n = int(count) if count else default
    except ValueError as exc:
        msg = f"scheduler={text!r}: the worker count must be an integer"
        raise ValueError(msg) from exc
    if n < 1:
        msg = f"scheduler={text!r}: the worker count must be at least 1"
        raise ValueError(msg)
    return kind, n


def _check_input(input_data):
    items = input_data if isinstance(input_data, (list, tuple)) else [input_data]
    if all(isinstance(i, (str, Path, dict)) for i in items):
        return
    msg = ("scheduler: workers open the exposures themselves, so give files, an association "
           "or a list of file names (not open models)")
    raise TypeError(msg)


_MAIN_LOCK = threading.Lock()
#: Seconds a local Dask worker gets to exit before it is killed.
_WORKER_EXIT = 60


@contextmanager
def _workers_skip_main():
    """Meanwhile, processes started with ``spawn`` do not re-run the caller's main script.

    multiprocessing's ``spawn`` tells a new process to re-import ``__main__`` from its
    ``__file__`` (or, for ``python -m``, its ``__spec__``); without both it starts from a
    bare main module, as for an interactive session. Both are hidden while spike starts
    its workers and restored afterwards.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _MAIN_LOCK:
        saved = {key: main.__dict__[key] for key in ("__file__", "__spec__")
                 if key in main.__dict__}
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            yield
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def _chunks(table, n):
    parts = np.array_split(np.arange(len(table)), min(n, len(table)))
    return [table[idx] for idx in parts if idx.size]


def _run_chunk(input_data, table, request):
    return drizzle_sources(input_data, table, request)


def drizzle_in_parallel(input_data, table, request, *, scheduler):
    """Run `~spike.workflow.drizzle_sources` over chunks of ``table`` in parallel.

    Returns
    -------
    result : `~spike.datamodels.DrizzledPSFModel`
        Sources in the order of ``table``.
    exposure_psfs : list of tuple
        ``(exposure_index, ExposurePSFModel)``, one per exposure, chunks merged.
    """
    _check_input(input_data)
    kind, value = parse_scheduler(scheduler)
    if kind == "address":
        from dask.distributed import Client

        with Client(value) as client:
            n = max(1, len(client.scheduler_info().get("workers", {})))
            parts = _on_dask(client, input_data, _chunks(table, n), request)
    elif kind == "dask":
        parts = _on_local_dask(value, input_data, _chunks(table, value), request)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunks = _chunks(table, value)
        log.info("Drizzling %d sources in %d chunks on %d local processes", len(table),
                 len(chunks), value)
        with ProcessPoolExecutor(max_workers=min(value, len(chunks)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            with _workers_skip_main():  # the workers start as the tasks are submitted
                results = pool.map(_run_chunk, [input_data] * len(chunks), chunks,
                                   [request] * len(chunks))
            parts = list(results)
    return merge_products([p[0] for p in parts]), _merge_exposure_psfs([p[1] for p in parts])


def _on_local_dask(n_workers, input_data, chunks, request):
    """Run the chunks on a local Dask cluster created for them, then shut it down cleanly.

    Each worker is asked to stop and given `_WORKER_EXIT` seconds to exit (a worker with
    jwst, romancal and their data loaded can take longer than Dask's default 4 s on a busy
    machine, which Dask reports as "Worker process still alive ... killing"); then the
    scheduler is closed.
    """
    from dask.distributed import Client, LocalCluster

    with _workers_skip_main():  # dashboard on a free local port: no clash with others
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address="127.0.0.1:0")
    try:
        with Client(cluster) as client:
            parts = _on_dask(client, input_data, chunks, request)
    finally:
        for nanny in list(cluster.workers.values()):
            cluster.sync(nanny.close, timeout=_WORKER_EXIT)
        cluster.close()
    return parts


def _on_dask(client, input_data, chunks, request):
    log.info("Drizzling %d chunks on the Dask cluster %s", len(chunks), client.scheduler.address)
    futures = [client.submit(_run_chunk, input_data, chunk, request, pure=False)
               for chunk in chunks]
    parts = client.gather(futures)
    client.cancel(futures)  # the results are here: release them on the workers
    return parts


def _merge_exposure_psfs(parts):
    from spike.datamodels import ExposurePSFModel
    from spike.datamodels._base import str_table

    by_exposure = {}
    for chunk in parts:
        for e, model in chunk:
            by_exposure.setdefault(e, []).append(model)
    merged = []
    for e in sorted(by_exposure):
        models = by_exposure[e]
        if len(models) == 1:
            merged.append((e, models[0]))
            continue
        out = ExposurePSFModel(data=np.concatenate([m.data for m in models]),
                               sources=str_table(np.concatenate([np.asarray(m.sources)
                                                                 for m in models])))
        out._instance["meta"] = copy.deepcopy(models[0]._instance["meta"])
        merged.append((e, out))
    return merged
