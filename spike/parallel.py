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
"""

import copy
import logging
import os
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
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            parts = _on_dask(client, input_data, _chunks(table, value), request)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunks = _chunks(table, value)
        log.info("Drizzling %d sources in %d chunks on %d local processes", len(table),
                 len(chunks), value)
        with ProcessPoolExecutor(max_workers=min(value, len(chunks)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_run_chunk, [input_data] * len(chunks), chunks,
                                  [request] * len(chunks)))
    return merge_products([p[0] for p in parts]), _merge_exposure_psfs([p[1] for p in parts])


def _on_dask(client, input_data, chunks, request):
    log.info("Drizzling %d chunks on the Dask cluster %s", len(chunks), client.scheduler.address)
    futures = [client.submit(_run_chunk, input_data, chunk, request, pure=False)
               for chunk in chunks]
    return client.gather(futures)


def _merge_exposure_psfs(parts):
    from spike.datamodels import ExposurePSFModel

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
                               sources=np.concatenate([np.asarray(m.sources) for m in models]))
        out._instance["meta"] = copy.deepcopy(models[0]._instance["meta"])
        merged.append((e, out))
    return merged
