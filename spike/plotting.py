"""Quicklook PNGs a person can look at: every exposure's PSF and the drizzled PSF."""

import logging

import numpy as np

__all__ = ["save_quicklook"]

log = logging.getLogger(__name__)

_MAX_SOURCES = 4
#: Diagnostics shown under each exposure's stamp, in this order, when a method reports them.
_QUALITY_KEYS = ("fit", "n_stars", "residual_rms", "chi2_red")


def _quality_label(diagnostics):
    """A short line of an exposure model's quality figures (``meta.psf.exposures``)."""
    parts = []
    for key in _QUALITY_KEYS:
        value = diagnostics.get(key)
        if value is None:
            continue
        parts.append(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


def _exposure_diagnostics(drizzled):
    rows = drizzled.meta.psf.exposures if "exposures" in drizzled.meta.psf else None
    if not rows:
        return {}
    return {e: dict(getattr(r, "instance", r)) for e, r in enumerate(rows)}


def _log_image(ax, image, title):
    from matplotlib.colors import LogNorm

    img = np.where(np.isfinite(image), image, 0.0)
    peak = float(img.max()) if img.size and img.max() > 0 else 1.0
    ax.imshow(np.clip(img, peak * 1e-5, None), origin="lower", cmap="magma",
              norm=LogNorm(vmin=peak * 1e-5, vmax=peak), interpolation="nearest")
    ax.set_title(title, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def save_quicklook(drizzled, exposure_psfs, path, *, max_sources=_MAX_SOURCES):
    """Write a PNG: per source, each exposure's PSF stamp and the drizzled PSF (log stretch).

    Parameters
    ----------
    drizzled : `~spike.datamodels.DrizzledPSFModel`
        The drizzled product.
    exposure_psfs : list of tuple
        ``(exposure_index, ExposurePSFModel)`` that went into it.
    path : str or Path
        Output PNG file.
    max_sources : int, optional
        Show at most this many sources (rows).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ids = [_as_str(v) for v in drizzled.sources["id"]][:max_sources]
    per_row = []
    for sid in ids:
        row = []
        for e, model in exposure_psfs:
            for k, mid in enumerate(model.sources["id"]):
                if _as_str(mid) == sid:
                    row.append((e, model, k))
        per_row.append(row)
    ncol = 1 + max((len(r) for r in per_row), default=0)
    quality = _exposure_diagnostics(drizzled)
    fig, axes = plt.subplots(len(ids), ncol, figsize=(1.8 * ncol, 2.0 * len(ids) + 0.3),
                             squeeze=False)
    for r, (sid, row) in enumerate(zip(ids, per_row, strict=True)):
        s = r
        src = drizzled.sources[s]
        _log_image(axes[r, 0], drizzled.data[s],
                   f"drizzled {sid}\n({src['n_exposures']} exp, sum {src['psf_sum']:.3f})")
        for c, (e, model, k) in enumerate(row, start=1):
            name = _as_str(model.meta.exposure.filename).split("_cal")[0][-22:]
            label = (f"exp {e}: {name}\n{model.meta.instrument.detector}"
                     f" x={model.sources[k]['x']:.1f} y={model.sources[k]['y']:.1f}")
            note = _quality_label(quality.get(e, {}))
            if note:
                label += "\n" + note
            _log_image(axes[r, c], model.data[k], label)
        for c in range(len(row) + 1, ncol):
            axes[r, c].axis("off")
    method = drizzled.meta.psf.method or "?"
    title = f"{drizzled.meta.product_name}: drizzled PSF (method {method}, log stretch)"
    choice = drizzled.meta.psf.choice if "choice" in drizzled.meta.psf else None
    if choice is not None and choice.reason:
        title += f"\n{choice.reason}"
    fig.suptitle(title, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _as_str(value):
    return value.decode() if isinstance(value, bytes) else str(value)
