"""The PSFEx model of one exposure evaluated at detector positions (`spike.psf.psfex`).

`PSFExModel` wraps the `~spike.psf._psfex_io.PSFExData` read from PSFEx's ``.psf`` file:
it evaluates the polynomial at a position (clamped to the range PSFEx fitted) and brings
the tabulated ePSF onto spike's stamp convention (`spike.psf.base`).
"""

import logging
import math
from pathlib import Path

import numpy as np

from spike.exceptions import PSFMethodError
from spike.psf._epsf import check_psf_array, check_size, render_epsf
from spike.psf._psfex_io import read_psf_file
from spike.psf._wings import join_wings
from spike.psf.base import PSFModel

__all__ = ["PSFExModel"]

log = logging.getLogger(__name__)


class PSFExModel(PSFModel):
    """A PSFEx model of one exposure, evaluated at detector positions.

    Parameters
    ----------
    data : `PSFExData`
        The model read from PSFEx's ``.psf`` file (`spike.psf._psfex_io.read_psf_file`).
    oversampling : int
        Oversampling of the arrays `evaluate` returns; ``1 / data.sampling`` must be an
        integer (any integer ``oversampling`` is then reached by resampling).
    label : str, optional
        Exposure name for messages.
    wings : spike.psf._wings.WingModel or None, optional
        Physical model whose wings extend the PSFEx model beyond its box
        (`spike.psf._wings.join_wings`); None: the model stops at its box.

    Attributes
    ----------
    data : `PSFExData`
        The PSFEx model (``accepted``, ``loaded``, ``chi2`` describe the fit).
    diagnostics : dict
        Plain JSON-able values describing the fit (``n_stars``, ``chi2``, ``wings``, ...),
        recorded per exposure in the products.
    """

    def __init__(self, data, *, oversampling, label="", wings=None):
        self.data = data
        self.oversampling = int(oversampling)
        self.label = label
        self.wings = wings
        ratio = 1.0 / data.sampling if data.sampling > 0 else math.inf
        if not math.isfinite(ratio) or abs(ratio - round(ratio)) > 1e-4 * ratio:
            msg = (f"{label}: PSFEx model sampling {data.sampling} is not 1/n of a pixel; "
                   "spike needs PSF_SAMPLING = 1/oversampling")
            raise PSFMethodError(msg)
        self.psf_oversampling = int(round(ratio))
        unknown = [n for n in data.names if n not in ("X_IMAGE", "Y_IMAGE")]
        if unknown:
            msg = (f"{label}: the PSFEx model varies with {', '.join(unknown)}; spike "
                   "evaluates models of X_IMAGE and Y_IMAGE only")
            raise PSFMethodError(msg)
        self.diagnostics = {"n_stars": int(data.accepted), "n_loaded": int(data.loaded),
                            "chi2": float(data.chi2), "fwhm_px": float(data.fwhm),
                            "degree": int(data.degree), "support_px": self.support,
                            "wings": None if wings is None else wings.name}

    @property
    def support(self):
        """Radius (px) of the PSFEx model box: ``(n // 2) / psf_oversampling``."""
        return (self.data.basis.shape[-1] // 2) / self.psf_oversampling

    @classmethod
    def from_file(cls, path, *, oversampling=None, label=None):
        """Read a PSFEx ``.psf`` file made outside spike.

        The model must vary (if at all) with ``X_IMAGE``/``Y_IMAGE`` of the exposure's
        array (1-based) and have ``PSF_SAMPLING = 1/n``.

        Parameters
        ----------
        path : str or pathlib.Path
            The ``.psf`` file.
        oversampling : int or None, optional
            Oversampling of the evaluated arrays; default ``1 / PSF_SAMP``.
        label : str or None, optional
            Name used in messages; default the file name.

        Returns
        -------
        PSFExModel
        """
        data = read_psf_file(path)
        if oversampling is None:
            oversampling = max(1, int(round(1.0 / data.sampling))) if data.sampling > 0 else 1
        return cls(data, oversampling=oversampling, label=label or Path(path).name)

    def context(self, x, y):
        """Return the PSFEx context (1-based ``X_IMAGE``, ``Y_IMAGE``) at 0-based ``(x, y)``.

        Each value is clamped to the range of the catalogue PSFEx fitted (``POLZERO`` +-
        ``POLSCAL / 2``), so the polynomial is never extrapolated.

        Parameters
        ----------
        x, y : float
            0-based detector position.

        Returns
        -------
        tuple of float
            One value per context parameter of the model, in its order.
        """
        values = {"X_IMAGE": float(x) + 1.0, "Y_IMAGE": float(y) + 1.0}
        out = []
        for name, zero, scale in zip(self.data.names, self.data.zero, self.data.scale,
                                     strict=True):
            half = abs(scale) / 2
            out.append(min(max(values[name], zero - half), zero + half))
        return tuple(out)

    def model_image(self, x, y):
        """Return PSFEx's raw model image at 0-based ``(x, y)`` (its own normalisation).

        Parameters
        ----------
        x, y : float
            0-based detector position.

        Returns
        -------
        numpy.ndarray
            ``(ny, nx)`` array sampled every ``1 / psf_oversampling`` pixel, PSF centre at
            ``(nx // 2, ny // 2)``.
        """
        if not (np.isfinite(x) and np.isfinite(y)):
            msg = f"position must be finite, got ({x}, {y})"
            raise ValueError(msg)
        return self.data.image(self.context(x, y))

    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at detector position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based detector position of the source.
        size : int
            Odd stamp width and height in detector pixels.

        Returns
        -------
        numpy.ndarray
            ``(size * oversampling, size * oversampling)`` float64 ePSF, centred on the
            array centre, summing to ``oversampling**2`` times the fraction of the model's
            flux inside the stamp.
        """
        size = check_size(size)
        image = check_psf_array(self.model_image(x, y),
                                what=f"{self.label}: PSFEx model at ({x}, {y})")
        ny, nx = image.shape
        if self.wings is None:
            return render_epsf(image, psf_oversampling=self.psf_oversampling,
                               oversampling=self.oversampling, size=size,
                               origin=(nx // 2, ny // 2), normalize=True)
        box = 2 * math.ceil(self.support) + 1
        core = render_epsf(image, psf_oversampling=self.psf_oversampling,
                           oversampling=self.oversampling, size=box,
                           origin=(nx // 2, ny // 2), normalize=True)
        # the wings at the position the polynomial was evaluated at (clamped)
        at = dict(zip(self.data.names, self.context(x, y), strict=True))
        joined, _ = join_wings(core, self.wings.at(at.get("X_IMAGE", x + 1.0) - 1.0,
                                                   at.get("Y_IMAGE", y + 1.0) - 1.0),
                               self.oversampling, support=self.support)
        return render_epsf(joined, psf_oversampling=self.oversampling,
                           oversampling=self.oversampling, size=size, normalize=False)
