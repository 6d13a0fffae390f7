"""Base class of spike's datamodels."""

import logging

from astropy.time import Time
from stdatamodels import DataModel

from spike import __version__

__all__ = ["SourceTableMixin", "SpikeDataModel", "str_table"]

log = logging.getLogger(__name__)

_SCALARS = (str, int, float, complex, bool)


def str_table(table):
    """Return a structured table whose text columns read as `str`, whatever its origin.

    Products store text columns as ASCII (``S`` dtype); plain NumPy arrays give them back as
    `bytes`, FITS tables as `str`. The returned `~astropy.io.fits.FITS_rec` gives `str` for
    a column (``table["id"][0]``) and for a row (``table[0]["id"]``), in memory and after
    reading an ASDF or FITS product alike, and saves as the same ASCII columns.

    Parameters
    ----------
    table : numpy.ndarray or None
        A structured array (copied when converted).

    Returns
    -------
    astropy.io.fits.FITS_rec or the input
        The input unchanged when it is None, not structured, or already a ``FITS_rec``.
    """
    from astropy.io import fits
    import numpy as np

    if table is None or isinstance(table, fits.FITS_rec):
        return table
    array = np.asarray(table)
    if array.dtype.names is None or not any(
            array.dtype[n].kind == "S" for n in array.dtype.names):
        return table
    return fits.FITS_rec.from_columns(fits.ColDefs(array))


class SpikeDataModel(DataModel):
    """
    Base class of spike's datamodels.

    Adds what stpipe needs on top of `stdatamodels.DataModel` (so a model is
    a `stpipe.datamodel.AbstractDataModel`) and stamps ``meta.date`` and
    ``meta.spike_version`` on creation and on save.
    """

    schema_url = "asdf://spike-psf.org/spike/schemas/core-1.0.0"

    @property
    def crds_observatory(self):
        """
        Observatory code of the model, as CRDS spells it.

        Returns
        -------
        str
            ``meta.telescope`` in lower case, or ``"jwst"`` when unset.
        """
        telescope = self.meta.telescope
        return telescope.lower() if telescope else "jwst"

    def get_crds_parameters(self):
        """
        Get the metadata flattened to scalar values, as CRDS selection expects.

        Returns
        -------
        dict
            Flat ``{"meta.instrument.name": value, ...}`` of scalar metadata.
        """
        flat = self.to_flat_dict(include_arrays=False)
        return {
            key: val
            for key, val in flat.items()
            if key.startswith("meta.") and isinstance(val, _SCALARS)
        }

    def on_init(self, init):
        """
        Stamp ``meta.date`` and ``meta.spike_version`` when missing.

        Parameters
        ----------
        init : object
            First argument to ``__init__``.
        """
        super().on_init(init)
        if not self.meta.hasattr("date"):
            self.meta.date = Time.now().isot
        if not self.meta.hasattr("spike_version"):
            self.meta.spike_version = __version__

    def on_save(self, path=None):
        """
        Stamp ``meta.date`` and ``meta.spike_version`` before writing.

        Parameters
        ----------
        path : str or None
            The path of the file about to be written.
        """
        super().on_save(path)
        self.meta.date = Time.now().isot
        self.meta.spike_version = __version__


class SourceTableMixin:
    """Look-ups on the ``sources`` table shared by the per-source models."""

    def _source_row(self, i):
        """Return the ``sources`` row of cutout ``i``, checking the index."""
        n_sources = 0 if self.sources is None else len(self.sources)
        if not -n_sources <= i < n_sources:
            msg = f"Source index {i} is out of range for {n_sources} sources."
            raise IndexError(msg)
        return self.sources[i]

    @property
    def source_ids(self):
        """list of str: The ``sources["id"]`` column as Python strings."""
        column = [] if self.sources is None else self.sources["id"]
        return [v.decode("ascii") if isinstance(v, bytes) else str(v) for v in column]

    def source_index(self, source_id):
        """
        Get the plane index of a source from its id.

        Parameters
        ----------
        source_id : str
            The source id, as in ``sources["id"]``.

        Returns
        -------
        int
            The index into ``data`` and ``sources``.

        Raises
        ------
        KeyError
            If no source has that id.
        """
        try:
            return self.source_ids.index(str(source_id))
        except ValueError:
            msg = f"No source with id {source_id!r}."
            raise KeyError(msg) from None
