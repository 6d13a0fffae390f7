"""A run writes nothing into the objects the caller passes: models, their WCS, tables."""

import copy

import numpy as np
from astropy.table import Table

from spike.steps import DrizzlePSFStep


def test_models_and_their_wcs_untouched(jwst_sim):
    models = jwst_sim.models[:2]
    wcs_state = [(m.meta.wcs, dict(vars(m.meta.wcs))) for m in models]
    meta_before = [copy.deepcopy(m.meta.instance) for m in models]
    arrays_before = [(m.data.copy(), m.dq.copy()) for m in models]
    sources = Table({"id": ["a"], "ra": [float(jwst_sim.stars["ra"][0])],
                     "dec": [float(jwst_sim.stars["dec"][0])]})
    sources_before = sources.copy()
    DrizzlePSFStep.call(models, sources, method="optical", stamp_size=11)
    for model, (wcs, state), meta, (data, dq) in zip(models, wcs_state, meta_before,
                                                     arrays_before, strict=True):
        assert model.meta.wcs is wcs
        assert vars(wcs).keys() == state.keys()
        assert all(vars(wcs)[k] is v for k, v in state.items())
        assert model.meta.instance.keys() == meta.keys()
        np.testing.assert_array_equal(model.data, data)
        np.testing.assert_array_equal(model.dq, dq)
    assert sources.colnames == sources_before.colnames
    assert all((sources[c] == sources_before[c]).all() for c in sources.colnames)
