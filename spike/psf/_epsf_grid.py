"""Spatial ePSF grids of the ``epsf`` PSF method: cells, star caps and selection reports.

`choose_grid` decides how many cells of an ``n x n`` grid the selected stars support,
`cap_stars` keeps the brightest stars spread over those cells and `rejection_summary`
explains an unsuccessful star selection (`spike.psf._epsf_stars.select_stars`).
"""

import numpy as np

__all__ = ["cap_stars", "cell_index", "choose_grid", "rejection_summary"]

#: How to relax each selection criterion, as ``str.format`` templates of the options.
_HINTS = {
    "snr": "min_snr={min_snr}",
    "sharpness": "sharpness_clip={sharpness_clip}",
    "isolation": "isolation={isolation} / isolation_ratio={isolation_ratio}",
    "saturation": "max_peak={max_peak}",
    "dq": "clean_radius={clean_radius} (None: the whole box must be DQ-clean)",
    "edge": "edge={edge}",
}


def cell_index(x, y, shape, n):
    """Return the cell number ``row * n + column`` of each position in an ``n x n`` grid.

    Parameters
    ----------
    x, y : numpy.ndarray
        Detector positions.
    shape : tuple of int
        ``(ny, nx)`` of the exposure.
    n : int
        Cells per axis.

    Returns
    -------
    numpy.ndarray of int
    """
    ny, nx = shape
    cx = np.clip((np.asarray(x) * n / nx).astype(int), 0, n - 1)
    cy = np.clip((np.asarray(y) * n / ny).astype(int), 0, n - 1)
    return cy * n + cx


def choose_grid(x, y, shape, *, grid_size, min_stars_per_cell, max_stars):
    """Return the number of ePSF grid cells per axis the stars support.

    Parameters
    ----------
    x, y : numpy.ndarray
        Star positions.
    shape : tuple of int
        ``(ny, nx)`` of the exposure.
    grid_size : int
        Largest number of cells per axis to try.
    min_stars_per_cell : int
        Every cell needs at least this many stars.
    max_stars : int
        Star cap; a grid needing more stars than this is not used.

    Returns
    -------
    int
        ``n`` for an ``n x n`` grid; 1 for a single ePSF.
    """
    for n in range(int(grid_size), 1, -1):
        if n * n * min_stars_per_cell > max_stars:
            continue
        counts = np.bincount(cell_index(x, y, shape, n), minlength=n * n)
        if counts.min() >= min_stars_per_cell:
            return n
    return 1


def cap_stars(x, y, snr, shape, *, n_grid, max_stars):
    """Return the indices of at most ``max_stars`` stars, the brightest of each cell first.

    Parameters
    ----------
    x, y, snr : numpy.ndarray
        Star positions and S/N.
    shape : tuple of int
        ``(ny, nx)`` of the exposure.
    n_grid : int
        Cells per axis; stars are taken in turn from every cell (round robin by S/N).
    max_stars : int
        Cap.

    Returns
    -------
    numpy.ndarray of int
    """
    snr = np.asarray(snr)
    if len(snr) <= max_stars:
        return np.argsort(-snr, kind="stable")
    cells = cell_index(x, y, shape, n_grid)
    order = np.lexsort((-snr, cells))
    rank = np.empty(len(snr), dtype=int)
    sorted_cells = cells[order]
    starts = np.searchsorted(sorted_cells, sorted_cells, side="left")
    rank[order] = np.arange(len(snr)) - starts
    chosen = np.lexsort((-snr, rank))[:max_stars]
    return chosen[np.argsort(-snr[chosen], kind="stable")]


def rejection_summary(selection, options):
    """Explain which criteria removed the candidates and which options to relax.

    Parameters
    ----------
    selection : StarSelection
        The outcome of `select_stars`.
    options : dict
        The option values of the method (``min_snr``, ``isolation``, ...).

    Returns
    -------
    str
        One sentence listing the rejections per criterion and the options to relax, the
        last criteria applied (those closest to yielding a star) first.
    """
    counts = selection.rejected
    done = ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing"
    hints = [template.format(**options) for key, template in _HINTS.items()
             if counts.get(key) and not (key == "saturation" and options["max_peak"] is None)]
    relax = f"relax {'; '.join(hints)}; or " if hints else ""
    return (f"of {selection.n_candidates} detected candidates, rejected by {done}. "
            f"To find more stars, {relax}lower min_stars or box_size={options['box_size']}.")
