"""How much memory a drizzled-PSF run needs, checked before any PSF is modelled.

A run holds, for every source of the batch being processed, one oversampled PSF stamp per
exposure that covers it (``(stamp_size * oversampling)**2`` float32 values), and, for the
whole run, the product's cutouts (``output_size**2`` data, weight and context values per
source). `plan_batches` sizes the batches to what the machine has and refuses a run whose
single source, or whose product, cannot fit, naming the parameters that decide it.
"""

import logging
import os

import numpy as np

__all__ = ["available_memory", "plan_batches", "stamp_input_size", "MEMORY_FRACTION"]

log = logging.getLogger(__name__)

#: Share of the available memory a run may plan to use.
MEMORY_FRACTION = 0.7
_GIB = 2.0**30


def available_memory():
    """Bytes of memory available to new allocations (``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _source_bytes(n_cover, *, stamp_size, oversampling, output_size, input_size):
    """Working memory of one source: its exposure stamps and one resample of them."""
    stamp = (stamp_size * oversampling) ** 2 * 4 * n_cover  # float32 oversampled cubes
    rendered = input_size**2 * n_cover * (8 + 6 * 4 + 2 * 8)  # stamp, DQ/ERR/VARs, pixmap
    padded = (output_size + 8) ** 2 * (4 + 4 + 4 + 8)  # drizzle output, weight, context
    return stamp + rendered + padded


def plan_batches(covered, *, stamp_size, oversampling, output_size, input_size,
                 n_planes=1, batch=200, keep_all=False, output_size_from=None, limit=None):
    """Return the number of sources to model together, or raise ValueError.

    Parameters
    ----------
    covered : numpy.ndarray
        ``(n_exposures, n_sources)`` booleans: which exposure covers which source.
    stamp_size, oversampling : int
        Detector stamp size and oversampling of the model PSFs.
    output_size : int
        Drizzled cutout size (output pixels).
    input_size : int
        Side of the detector cutout drizzled for one source (pixels).
    n_planes : int, optional
        Context bit planes per cutout.
    batch : int, optional
        The largest batch wanted.
    keep_all : bool, optional
        Every source's exposure stamps are kept (to save or plot them): one batch.
    output_size_from : str, optional
        How ``output_size`` was chosen (for the message), e.g. ``"computed from
        stamp_size and pixel_scale"``.
    limit : float, optional
        Bytes the run may use (default: `MEMORY_FRACTION` of `available_memory`).

    Returns
    -------
    int
        Sources per batch (at least 1). Results do not depend on it.

    Raises
    ------
    ValueError
        One source, the product, or (with ``keep_all``) all stamps together need more
        than ``limit``; the message gives the estimate and the parameters behind it.
    """
    n_src = covered.shape[1]
    if limit is None:
        available = available_memory()
        limit = None if available is None else MEMORY_FRACTION * available
    if limit is None or n_src == 0:
        return max(1, min(batch, n_src))
    per_exposure = covered.sum(axis=0)
    worst = _source_bytes(int(per_exposure.max()), stamp_size=stamp_size,
                          oversampling=oversampling, output_size=output_size,
                          input_size=input_size)
    product = float(n_src) * output_size**2 * (4 + 4 + 4 * n_planes + 8)
    size_note = f"output_size={output_size}" + (f" ({output_size_from})"
                                                if output_size_from else "")
    if worst + product > limit:
        product_note = (f"; {size_note}: {product / _GIB:.2f} GiB of product for {n_src} "
                        "source(s)") if output_size else ""
        msg = (f"This run needs about {(worst + product) / _GIB:.1f} GiB (stamp_size="
               f"{stamp_size} at oversampling={oversampling}: "
               f"{worst / _GIB:.2f} GiB per source on {int(per_exposure.max())} "
               f"exposure(s){product_note}), more than the {limit / _GIB:.1f} GiB it may use "
               "on this machine; lower stamp_size, oversampling"
               + (" or output_size (or raise pixel_scale)" if output_size else ""))
        raise ValueError(msg)
    if keep_all:
        total = sum(_source_bytes(int(n), stamp_size=stamp_size, oversampling=oversampling,
                                  output_size=output_size, input_size=input_size)
                    for n in per_exposure)
        if total + product > limit:
            msg = (f"Keeping every source's exposure PSFs (generate_psf, or drizzle_psf with "
                   f"save_exposure_psfs or save_plots) needs about "
                   f"{(total + product) / _GIB:.1f} GiB for {n_src} sources (stamp_size="
                   f"{stamp_size} at oversampling={oversampling}), more "
                   f"than the {limit / _GIB:.1f} GiB this run may use; run without them, or "
                   "with fewer sources or a smaller stamp_size")
            raise ValueError(msg)
        return n_src
    fits = int((limit - product) // max(worst, 1))
    chosen = max(1, min(batch, n_src, fits))
    if chosen < min(batch, n_src):
        log.info("Sources go through in batches of %d (memory: about %.2f GiB per source)",
                 chosen, worst / _GIB)
    return chosen


def stamp_input_size(output_size, out_scale, in_scales, margin):
    """Side (detector pixels) of the cutout drizzled onto an ``output_size`` cutout."""
    return int(np.ceil((output_size + 8) * out_scale / max(min(in_scales), 1e-12))) + 2 * margin
