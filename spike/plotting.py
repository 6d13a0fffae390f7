"""Quicklook PNGs a person can look at: every exposure's PSF and the drizzled PSF."""

import logging

import numpy as np

__all__ = ["quicklook_figure", "save_quicklook"]

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


#: Dynamic range of the log stretch (each panel from its own peak down to this fraction).
_FLOOR = 1e-5


def _log_image(ax, image, title):
    """Show ``image`` divided by its peak, log stretch; return the image artist."""
    from matplotlib.colors import LogNorm

    img = np.where(np.isfinite(image), image, 0.0)
    peak = float(img.max()) if img.size and img.max() > 0 else 1.0
    artist = ax.imshow(np.clip(img / peak, _FLOOR, None), origin="lower", cmap="magma",
                       norm=LogNorm(vmin=_FLOOR, vmax=1.0), interpolation="nearest")
    ax.set_title(title, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    return artist


def _scale_bar(ax, pixel_scale, n_pixels):
    """Draw a bar of a round angle (about a quarter of the panel) at the lower left."""
    if not pixel_scale or pixel_scale <= 0:
        return
    width = n_pixels * pixel_scale  # arcsec
    target = width / 4
    exponent = np.floor(np.log10(target))
    length = max((m * 10**exponent for m in (1, 2, 5) if m * 10**exponent <= target),
                 default=10**exponent)
    bar = length / pixel_scale
    x0, y0 = 0.06 * n_pixels, 0.08 * n_pixels
    ax.plot([x0, x0 + bar], [y0, y0], color="white", lw=1.5)
    ax.text(x0 + bar / 2, y0 + 0.04 * n_pixels, f'{length:g}"', color="white",
            ha="center", va="bottom", fontsize=6)


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

    Returns
    -------
    path
    """
    fig = quicklook_figure(drizzled, exposure_psfs, max_sources=max_sources)
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def quicklook_figure(drizzled, exposure_psfs, *, max_sources=_MAX_SOURCES):
    """The quicklook as a matplotlib figure (see `save_quicklook`).

    Each panel is divided by its own peak and shown with a log stretch (one colour bar);
    the drizzled PSF (left) is on the mosaic's pixel grid, the exposures' PSFs are the
    oversampled model PSFs in each detector's pixel frame; every panel has an angular
    scale bar.

    Returns
    -------
    matplotlib.figure.Figure
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
    artist = None
    scale = float(drizzled.meta.mosaic.pixel_scale or 0.0)
    ratio = drizzled.meta.resample.pixel_scale_ratio
    exposure_scale = scale / float(ratio) if ratio else 0.0  # detector pixels (approx.)
    for r, (sid, row) in enumerate(zip(ids, per_row, strict=True)):
        s = r
        src = drizzled.sources[s]
        artist = _log_image(axes[r, 0], drizzled.data[s],
                            f"drizzled {sid}\n({src['n_exposures']} exp, sum "
                            f"{src['psf_sum']:.3f})")
        _scale_bar(axes[r, 0], scale, drizzled.data[s].shape[-1])
        for c, (e, model, k) in enumerate(row, start=1):
            name = _as_str(model.meta.exposure.filename).split("_cal")[0][-22:]
            label = (f"exp {e}: {name}\n{model.meta.instrument.detector}"
                     f" x={model.sources[k]['x']:.1f} y={model.sources[k]['y']:.1f}")
            note = _quality_label(quality.get(e, {}))
            if note:
                label += "\n" + note
            _log_image(axes[r, c], model.data[k], label)
            _scale_bar(axes[r, c], exposure_scale / int(model.meta.oversampling or 1),
                       model.data[k].shape[-1])
        for c in range(len(row) + 1, ncol):
            axes[r, c].axis("off")
    method = drizzled.meta.psf.method or "?"
    title = f"{drizzled.meta.product_name}: drizzled PSF (method {method}, log stretch)"
    choice = drizzled.meta.psf.choice if "choice" in drizzled.meta.psf else None
    if choice is not None and choice.reason:
        title += f"\n{choice.reason}"
    oversampling = drizzled.meta.psf.oversampling
    title += (f"\nleft: drizzled PSF on the mosaic grid ({scale:.4g}\"/pixel); right: each "
              "exposure's model PSF, oversampled"
              + (f" x{oversampling}" if oversampling else "")
              + " in its detector's pixel frame (not rotated to the sky)")
    fig.suptitle(title, fontsize=7)
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    if artist is not None:
        cax = fig.add_axes((0.93, 0.15, 0.015, 0.7))
        bar = fig.colorbar(artist, cax=cax)
        bar.set_label("fraction of the panel's peak", fontsize=6)
        bar.ax.tick_params(labelsize=6)
    return fig


def _as_str(value):
    return value.decode() if isinstance(value, bytes) else str(value)
