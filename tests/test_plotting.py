"""The quicklook figure: colour bar, angular scale bars, and what each panel shows."""

import matplotlib
import numpy as np
import pytest

from spike.plotting import _scale_bar, quicklook_figure, save_quicklook

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def run(jwst_sim):
    """A drizzled product and the exposure PSFs that went into it (two sources)."""
    from spike.sources import resolve_sources
    from spike.workflow import DrizzleRequest, drizzle_sources

    table = resolve_sources(ra=list(jwst_sim.stars["ra"][:2]),
                            dec=list(jwst_sim.stars["dec"][:2]))
    request = DrizzleRequest(method="optical", stamp_size=11, keep_exposure_psfs=True,
                             grid={"pixfrac": 1.0, "kernel": "square", "fillval": "NAN",
                                   "weight_type": "ivm"})
    return drizzle_sources(jwst_sim.models[:3], table, request)


def test_quicklook_figure(run):
    import matplotlib.pyplot as plt

    result, exposure_psfs = run
    fig = quicklook_figure(result, exposure_psfs)
    try:
        panels, colorbars = fig.axes[:-1], fig.axes[-1:]
        assert len(panels) == 2 * (1 + 3) and len(colorbars) == 1
        assert "fraction of the panel's peak" in colorbars[0].get_ylabel()
        # every panel carries an angular scale bar
        assert all(any(t.get_text().endswith('"') for t in ax.texts) for ax in panels)
        title = fig._suptitle.get_text()
        assert "oversampled x4 in its detector's pixel frame" in title
        assert "drizzled PSF on the mosaic grid" in title
        assert "method optical" in title  # the method line stays
    finally:
        plt.close(fig)


def test_save_quicklook_writes_a_png(run, tmp_path):
    result, exposure_psfs = run
    path = save_quicklook(result, exposure_psfs, tmp_path / "q.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("scale", "n", "length"), [(0.031, 21, "0.1"), (0.11, 41, "1"),
                                                     (0.0078, 84, "0.1")])
def test_scale_bar_is_a_round_angle(scale, n, length):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        _scale_bar(ax, scale, n)
        (text,) = ax.texts
        assert text.get_text() == f'{length}"'
        (line,) = ax.lines
        assert np.ptp(line.get_xdata()) == pytest.approx(float(length) / scale)
    finally:
        plt.close(fig)
