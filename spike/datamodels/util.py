"""Open any spike product, dispatching on ``meta.model_type``."""

import logging
from pathlib import Path

import asdf
from astropy.io import fits
from stdatamodels import filetype

from ._base import SpikeDataModel, str_table
from .drizzled_psf import DrizzledPSFModel
from .exposure_psf import ExposurePSFModel

__all__ = ["open", "plain"]

log = logging.getLogger(__name__)

_MODELS = {cls.__name__: cls for cls in (ExposurePSFModel, DrizzledPSFModel)}


def open(init, **kwargs):  # noqa: A001
    """
    Open a spike product as the model class named by its ``meta.model_type``.

    Parameters
    ----------
    init : str, `pathlib.Path`, `astropy.io.fits.HDUList` or `SpikeDataModel`
        A ``.asdf`` or ``.fits`` file, an open FITS file, or a spike model
        (returned as a shallow copy of the same class).
    **kwargs
        Passed to the model class, e.g. ``strict_validation=True``.

    Notes
    -----
    Every array is read into memory and the file is closed: products are small, and
    ``open(path).data`` works without keeping the model in a variable.

    Returns
    -------
    SpikeDataModel
        An `ExposurePSFModel` or `DrizzledPSFModel`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be read or is not a spike product.
    TypeError
        If ``init`` is of an unsupported type.
    """
    if isinstance(init, SpikeDataModel):
        return init.__class__(init, **kwargs)
    if isinstance(init, fits.HDUList):
        model_type = init[0].header.get("DATAMODL")
        return _model_class(model_type, "the HDUList")(init, **kwargs)
    if not isinstance(init, (str, Path)):
        msg = f"Cannot open a spike product from {type(init).__name__}."
        raise TypeError(msg)

    path = Path(init)
    if not path.is_file():
        msg = f"No such file: '{path}'."
        raise FileNotFoundError(msg)
    kind = _kind(path)
    cls = _model_class(_read_model_type(path, kind), f"'{path}'")
    log.debug("Opening %s as %s", path, cls.__name__)
    if kind == "asdf":
        # products are small: read every array now, so the model does not depend on an
        # open file (``open(path).data`` works without keeping the model in a variable)
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            model = cls(af, **kwargs)
        for name in ("sources", "exposures"):
            if name in model._instance:  # text columns as str, as from FITS
                model._instance[name] = str_table(model._instance[name])
        return model
    return cls(str(path), **kwargs)


def _kind(path):
    try:
        return filetype.check(path)
    except ValueError as err:
        msg = f"'{path}' is not a .fits or .asdf file."
        raise ValueError(msg) from err


def _read_model_type(path, kind):
    """Read ``meta.model_type`` of a file without building a model."""
    try:
        if kind == "fits":
            return fits.getheader(path, 0).get("DATAMODL")
        if kind == "asdf":
            meta = asdf.util.load_yaml(path).get("meta")
            return meta.get("model_type") if isinstance(meta, dict) else None
    except Exception as err:
        msg = f"Cannot read '{path}': {err}"
        raise ValueError(msg) from err
    msg = f"'{path}' is a {kind} file, not a spike product."
    raise ValueError(msg)


def _model_class(model_type, where):
    """Return the spike model class for ``model_type`` or raise `ValueError`."""
    cls = _MODELS.get(model_type)
    if cls is None:
        known = ", ".join(sorted(_MODELS))
        msg = (
            f"{where} is not a spike product: model_type is {model_type!r}, "
            f"expected one of {known}."
        )
        raise ValueError(msg)
    return cls


def plain(value):
    """Return ``value`` as plain Python data a product's free-form metadata can hold.

    NumPy scalars become Python numbers, arrays and tuples become lists, mapping keys
    strings; anything else becomes its ``str``.

    Parameters
    ----------
    value : object
        A number, string, bool, None, array, or a (nested) list, tuple or mapping of them.

    Returns
    -------
    object

    Examples
    --------
    >>> import numpy as np
    >>> plain({"n": np.int64(3), "xy": np.array([1.5, 2.0]), "ok": np.bool_(True)})
    {'n': 3, 'xy': [1.5, 2.0], 'ok': True}
    """
    import numpy as np

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)
