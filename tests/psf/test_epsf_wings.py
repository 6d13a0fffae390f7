"""The ``epsf`` method keeps the wings: stars drawn with a known HST-like PSF (poppy).

The truth (`tests.psf._synthetic`) has the diffraction wings, rings and spikes of an HST
pupil; the stars sit at random sub-pixel positions among faint neighbours, on a sky with
Poisson noise. Encircled energies EE(r) / EE(12.5 px) of the built ePSF are compared with
the truth's on the same sample grid.

What the data cannot tell, a prior supplies: the PSF's own light in the annulus where the
stars' local backgrounds are measured (13.5-17.5 px) is estimated from the physical
model's halo shape (`spike.psf._wings.halo_level`). With the truth's own shape as prior the
algorithm is tested alone; with spike's ``optical`` model (aberration-free, its halo 23 %
stronger than this truth's relative to the light within 12.5 px) it is tested as users
run it.
"""

import json
import logging

import numpy as np
import pytest

import spike.psf.epsf as epsf_module
from spike.exceptions import PSFMethodError
from spike.psf._wings import WingModel, join_wings, radii, transition
from spike.psf.base import PSFModel
from spike.psf.epsf import EPSFMethod
from tests.psf._synthetic import encircled_energy, star_field

OVER = 4
RADII = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0)


class _Truth(PSFModel):
    """The truth of a star field as a PSF model (any normalisation: only its shape counts)."""

    oversampling = OVER

    def __init__(self, field):
        self.field = field

    def evaluate(self, x, y, *, size):
        return 0.9 * self.field.truth(x, size, OVER)


def _with_truth_wings(monkeypatch, field):
    monkeypatch.setattr(epsf_module, "wing_model",
                        lambda detector, *, oversampling, size, step=None:
                        WingModel(_Truth(field), "truth", size=size))


def _ee_errors(model, field, x, y, *, size=25, norm=12.5, radii_=RADII):
    got = encircled_energy(model.evaluate(x, y, size=size), OVER, radii_, norm=norm)
    want = encircled_energy(field.truth(x, size, OVER), OVER, radii_, norm=norm)
    return got / want - 1


@pytest.fixture(scope="module")
def field():
    return star_field(seed=7)


def test_ee_matches_truth_to_the_box_edge(field, monkeypatch):
    _with_truth_wings(monkeypatch, field)
    model = EPSFMethod(grid_size=1).prepare(field.detector)
    errors = _ee_errors(model, field, 384.0, 384.0)
    # measured: -0.64 % at 1 px (the core), |error| <= 0.3 % from 1.5 to 12 px (2 seeds);
    # the former scheme (frame background, one-time outlier mask, equal weights) was up
    # to 1.8 % too concentrated here (+0.9, +1.8, +1.5, +1.4 % at 1, 1.5, 2, 4 px, its
    # 10.5 px support as normalisation)
    assert abs(errors[0]) < 0.008, errors
    assert np.abs(errors[1:]).max() < 0.005, errors
    d = model.diagnostics
    assert d["wings"] == "truth" and d["n_stars"] >= 100
    # the halo level estimated in the background annulus: the truth's is 2.87e-5 per px
    assert d["halo_level"] == pytest.approx(2.87e-5, rel=0.15)
    # beyond the stars' reach the model's wings: EE to 40 px (1") within 0.6 % (measured
    # 0.42 % at 2 px), and the light beyond the stamp is the model's
    far = _ee_errors(model, field, 384.0, 384.0, size=81, norm=40.0,
                     radii_=(2.0, 4.0, 8.0, 12.5, 16.0, 24.0, 32.0))
    assert np.abs(far).max() < 0.006, far
    stamp = model.evaluate(384.0, 384.0, size=81)
    prior = _Truth(field).evaluate(384.0, 384.0, size=81)
    assert stamp.sum() == pytest.approx(prior.sum(), rel=1e-9)
    json.dumps(d)  # plain values only


def test_optical_wings_on_hst_like_stars(field):
    """As users run it: the ``optical`` model of ACS/HRC supplies the halo shape."""
    model = EPSFMethod(grid_size=1).prepare(field.detector)
    assert model.diagnostics["wings"] == "optical"
    errors = _ee_errors(model, field, 384.0, 384.0)
    # measured -1.0 % at 1 px, within -0.6 % beyond: the optical model's halo is 23 %
    # stronger than the truth's, so the background correction is 33 % too large
    assert np.abs(errors).max() < 0.012, errors
    bare = EPSFMethod(grid_size=1, wings=None).prepare(field.detector)
    assert bare.diagnostics["wings"] is None and bare.epsfs.shape[-1] == 25 * OVER
    # without a model, a power law extrapolates the halo: rough (measured 7.1e-5, the
    # truth's level is 2.87e-5)
    assert bare.diagnostics["halo_level"] > 1.5 * model.diagnostics["halo_level"]


def test_grid_keeps_the_wings(monkeypatch):
    """A core that broadens across the detector (blur 0.2 to 0.5 px) over fixed wings."""
    varying = star_field(seed=11, blur=(0.2, 0.5), n_bright=320)
    _with_truth_wings(monkeypatch, varying)
    model = EPSFMethod(grid_size=2, min_stars_per_cell=15).prepare(varying.detector)
    assert model.is_gridded
    cores = []
    for x, y in [(gx, gy) for gx in model.grid_x for gy in model.grid_y]:
        errors = _ee_errors(model, varying, x, y)
        # measured: <= 1.3 % within 3 px (a cell has a quarter of the stars), <= 0.4 %
        # beyond: the cells refine the core only and share the exposure's wings
        assert np.abs(errors[:4]).max() < 0.016, (x, errors)
        assert np.abs(errors[4:]).max() < 0.006, (x, errors)
        cores.append(encircled_energy(model.evaluate(x, y, size=25), OVER, [1.0],
                                      norm=12.5)[0])
    # the core follows the blur: EE(1 px) falls from left to right as in the truth
    left, right = (encircled_energy(varying.truth(x, 25, OVER), OVER, [1.0], norm=12.5)[0]
                   for x in model.grid_x)
    assert cores[0] - cores[-1] == pytest.approx(left - right, rel=0.25)


def test_join_wings_keeps_the_empirical_shape():
    n_emp, n_mod = 25 * OVER, 61 * OVER
    r_emp, r_mod = radii(n_emp, OVER), radii(n_mod, OVER)
    emp = np.exp(-r_emp**2 / 4.0) + 1e-3 * (r_emp <= 12.5)
    emp[r_emp > 12.5] = 0.0
    model = np.exp(-r_mod**2 / 5.0) + 2e-3 / (1 + r_mod**3)
    model *= 0.97 * OVER**2 / model.sum()
    joined, scale = join_wings(emp, model, OVER, support=12.5)
    r1, r2 = transition(12.5)
    assert (r1, r2) == (8.5, 11.5)
    assert joined.shape == model.shape and joined.sum() == pytest.approx(model.sum())
    inner = r_mod <= r1
    pad = (n_mod - n_emp) // 2
    emp_big = np.zeros_like(model)
    emp_big[pad:-pad, pad:-pad] = emp
    ratio = joined[inner] / emp_big[inner]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)  # the empirical shape kept
    outer = r_mod >= r2
    ratio = joined[outer] / model[outer]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)  # the model's shape beyond
    assert scale > 0
    with pytest.raises(PSFMethodError, match="does not reach"):
        join_wings(emp, model[100:-100, 100:-100], OVER, support=12.5)
    with pytest.raises(PSFMethodError, match="share no light"):
        join_wings(emp, np.where(r_mod < 5, model, 0.0), OVER, support=12.5)


def test_no_model_for_the_detector(field, caplog):
    """No WCS (or no model of the detector): a warning, and the ePSF is not extended."""
    import dataclasses

    bare = dataclasses.replace(field.detector, wcs=None)
    with caplog.at_level(logging.WARNING, logger="spike.psf._wings"):
        model = EPSFMethod(grid_size=1, max_stars=40).prepare(bare)
    assert "not extended" in caplog.text and "synthetic_wings_flt.fits" in caplog.text
    assert model.diagnostics["wings"] is None and model.epsfs.shape[-1] == 25 * OVER
    assert model.evaluate(384.0, 384.0, size=25).sum() == pytest.approx(OVER**2)


@pytest.mark.parametrize(("kwargs", "name"), [({"wings": "optical"}, "wings"),
                                              ({"wings_size": 24 + 58}, "wings_size"),
                                              ({"wings_size": 21}, "wings_size")])
def test_wing_options_validated(kwargs, name):
    with pytest.raises(ValueError, match=name):
        EPSFMethod(**kwargs)
    described = EPSFMethod(wings=None, wings_size=61).describe()
    assert described["wings"] is None and described["wings_size"] == 61
    assert EPSFMethod().describe()["wings"] == "model"
