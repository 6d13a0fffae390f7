"""What spike says to and reads from Source Extractor and PSFEx (`spike.psf.psfex`).

Locating the programs, writing their inputs (science, weight and flag images, the shipped
configuration), running them, choosing the star sample, and reading PSFEx's ``.psf`` file
into a `PSFExData`. `find_psfex` is re-exported by `spike.psf.psfex`.
"""

import importlib.resources
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from spike.exceptions import PSFDataUnavailableError, PSFMethodError

__all__ = [
    "CONFIG_FILES",
    "FLAG_BAD",
    "FLAG_SATURATED",
    "PSFExData",
    "find_psfex",
    "output_tail",
    "polynomial_terms",
    "read_psf_file",
    "run_program",
    "sample_min_snr",
    "write_config",
    "write_images",
]

log = logging.getLogger(__name__)

#: Files shipped in ``spike/psf/data/psfex``: role -> file name.
CONFIG_FILES = {"sextractor": "spike.sex", "params": "spike.param", "filter": "spike.conv",
                "psfex": "spike.psfex"}

#: Bits of the flag image spike writes for Source Extractor (``IMAFLAGS_ISO``).
FLAG_SATURATED = 1
FLAG_BAD = 2

#: Names Source Extractor is installed under (Debian/Ubuntu, then the upstream name).
_SEXTRACTOR_NAMES = ("source-extractor", "sex")

_INSTALL_HINT = (
    "The 'psfex' PSF method needs the programs Source Extractor (as 'source-extractor' or "
    "'sex') and PSFEx ('psfex') on PATH. On Debian or Ubuntu: "
    "'apt-get install source-extractor psfex'; with conda: "
    "'conda install -c conda-forge astromatic-source-extractor astromatic-psfex'."
)


def find_psfex():
    """Locate Source Extractor and PSFEx on ``PATH`` without running them.

    Returns
    -------
    dict
        ``{"sextractor": path, "psfex": path}``; Source Extractor is looked for as
        ``source-extractor`` first, then as ``sex``.

    Raises
    ------
    spike.exceptions.PSFDataUnavailableError
        When either program is missing; the message says how to install them.
    """
    problems = []
    sextractor = next(filter(None, (shutil.which(name) for name in _SEXTRACTOR_NAMES)), None)
    if sextractor is None:
        problems.append("Source Extractor is not on PATH (looked for 'source-extractor' "
                        "and 'sex')")
    psfex = shutil.which("psfex")
    if psfex is None:
        problems.append("PSFEx is not on PATH (looked for 'psfex')")
    if problems:
        msg = f"{'; '.join(problems)}. {_INSTALL_HINT}"
        raise PSFDataUnavailableError(msg)
    return {"sextractor": sextractor, "psfex": psfex}


def write_config(directory, *, vignet):
    """Copy the shipped configuration into ``directory``, sizing the ``VIGNET`` column.

    Parameters
    ----------
    directory : pathlib.Path
        Run directory.
    vignet : int
        Side of the square ``VIGNET`` cut-outs Source Extractor writes, in pixels.

    Returns
    -------
    dict
        Role (keys of `CONFIG_FILES`) -> path of the written file.
    """
    source = importlib.resources.files("spike.psf") / "data" / "psfex"
    paths = {}
    for role, name in CONFIG_FILES.items():
        text = (source / name).read_text()
        if role == "params":
            text, count = re.subn(r"(?m)^VIGNET\(\d+,\s*\d+\)", f"VIGNET({vignet},{vignet})",
                                  text)
            if count != 1:
                msg = f"the shipped {name} must hold exactly one VIGNET(n,n) line"
                raise PSFMethodError(msg)
        paths[role] = directory / name
        paths[role].write_text(text)
    return paths


def write_images(directory, pixels, *, shape=None):
    """Write the science, weight and flag images Source Extractor reads.

    Parameters
    ----------
    directory : pathlib.Path
        Run directory.
    pixels : `~spike.psf.base.ExposurePixels`
        The exposure's pixels. Unusable pixels (``~good``, non-finite data or, when ``err``
        is given, non-finite or non-positive errors) get weight 0; the others weight
        ``1 / err**2`` (or 1 without ``err``). Saturated pixels are flagged
        `FLAG_SATURATED`, other unusable pixels `FLAG_BAD`.
    shape : tuple of int or None, optional
        Expected ``(ny, nx)``; checked when given.

    Returns
    -------
    dict
        ``{"science": path, "weight": path, "flags": path}``.

    Raises
    ------
    spike.exceptions.PSFMethodError
        When the arrays are not 2-D, disagree in shape or hold no usable pixel.
    """
    from astropy.io import fits

    data = np.asarray(pixels.data, dtype=np.float32)
    if data.ndim != 2:
        msg = f"the exposure's pixels must be a 2-D array, got shape {data.shape}"
        raise PSFMethodError(msg)
    if shape is not None and tuple(shape) != data.shape:
        msg = f"the exposure's pixels have shape {data.shape}, the detector {tuple(shape)}"
        raise PSFMethodError(msg)
    arrays = {"good": pixels.good, "saturated": pixels.saturated, "err": pixels.err}
    for name, array in arrays.items():
        if array is not None and np.shape(array) != data.shape:
            msg = (f"ExposurePixels.{name} has shape {np.shape(array)}, the data "
                   f"{data.shape}")
            raise PSFMethodError(msg)
    good = np.asarray(pixels.good, dtype=bool) & np.isfinite(data)
    if pixels.err is None:
        weight = good.astype(np.float32)
    else:
        err = np.asarray(pixels.err, dtype=np.float64)
        good &= np.isfinite(err) & (err > 0)
        weight = np.zeros(data.shape, dtype=np.float32)
        weight[good] = 1.0 / err[good] ** 2
    if not good.any():
        msg = "the exposure has no usable pixel (good mask empty or no finite data)"
        raise PSFMethodError(msg)
    flags = np.where(good, 0, FLAG_BAD).astype(np.int16)
    if pixels.saturated is not None:
        flags[np.asarray(pixels.saturated, dtype=bool)] |= FLAG_SATURATED
    paths = {"science": directory / "science.fits", "weight": directory / "weight.fits",
             "flags": directory / "flags.fits"}
    fits.PrimaryHDU(np.where(np.isfinite(data), data, 0).astype(np.float32)).writeto(
        paths["science"])
    fits.PrimaryHDU(weight).writeto(paths["weight"])
    fits.PrimaryHDU(flags).writeto(paths["flags"])
    return paths


def run_program(command, directory, *, what, label, timeout=None):
    """Run one program in ``directory``; raise `PSFMethodError` when it fails.

    Parameters
    ----------
    command : list of str
        Program path and arguments.
    directory : pathlib.Path
        Working directory.
    what : str
        Program name for messages (``"Source Extractor"``, ``"PSFEx"``).
    label : str
        Exposure name for messages.
    timeout : float or None, optional
        Seconds allowed.

    Returns
    -------
    subprocess.CompletedProcess
    """
    log.debug("Running %s in %s", " ".join(str(c) for c in command), directory)
    try:
        proc = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                              errors="replace", cwd=directory, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"{label}: running {what} failed: {exc}"
        raise PSFMethodError(msg) from exc
    if proc.returncode != 0:
        msg = f"{label}: {what} exited with {proc.returncode}: {output_tail(proc)}"
        raise PSFMethodError(msg)
    return proc


#: Progress and banner lines of the programs, left out of error messages.
_CHATTER = re.compile(r"^(>\s*(Computing|Plotting|Saving|Reading|Initializing|Examining|"
                      r"Setting|Measuring|Closing|Writing|All done|$)|-{3,}|filename\s)")


def output_tail(proc, limit=700):
    """Return the end of a program's stderr (or stdout) as one line for a message.

    Terminal escapes and progress lines are dropped, so warnings and errors remain.
    """
    text = proc.stderr or proc.stdout or ""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not _CHATTER.match(line)]
    return " | ".join(lines)[-limit:] or "(no output)"


def sample_min_snr(catalog, *, min_snr, max_stars, fwhm_range, max_ellipticity,
                   flag_mask, imaflag_mask, variability=0.2):
    """Return the ``SAMPLE_MINSN`` that keeps about ``max_stars`` PSF stars.

    Mimics PSFEx's own selection on the catalogue columns (flags, ellipticity, S/N and a
    FWHM = 2 ``FLUX_RADIUS`` within ``variability`` of the most common value) and raises
    the S/N threshold until at most ``max_stars`` candidates remain, so PSFEx fits the
    brightest stars only and stays fast.

    Parameters
    ----------
    catalog : mapping
        Catalogue columns (arrays) ``FLAGS``, ``IMAFLAGS_ISO``, ``ELONGATION``, ``SNR_WIN`` and
        ``FLUX_RADIUS``.
    min_snr : float
        Lowest threshold.
    max_stars : int or None
        Most stars wanted; `None` keeps every candidate.
    fwhm_range : tuple of float
        Allowed FWHM in pixels.
    max_ellipticity : float
        Largest ``(A - B) / (A + B)``, i.e. ``(ELONGATION - 1) / (ELONGATION + 1)``.
    flag_mask, imaflag_mask : int
        Rejection masks on ``FLAGS`` and ``IMAFLAGS_ISO``.
    variability : float, optional
        Relative FWHM window around the mode.

    Returns
    -------
    threshold : float
        At least ``min_snr``.
    n_candidates : int
        Candidates above ``threshold``.
    """
    snr = np.asarray(catalog["SNR_WIN"], dtype=float)
    fwhm = 2.0 * np.asarray(catalog["FLUX_RADIUS"], dtype=float)
    elongation = np.asarray(catalog["ELONGATION"], dtype=float)
    ellipticity = (elongation - 1.0) / (elongation + 1.0)  # PSFEx's (A - B) / (A + B)
    ok = ((np.asarray(catalog["FLAGS"]) & flag_mask) == 0)
    ok &= (np.asarray(catalog["IMAFLAGS_ISO"]) & imaflag_mask) == 0
    ok &= np.isfinite(snr) & (snr >= min_snr) & (ellipticity < max_ellipticity)
    ok &= (fwhm >= fwhm_range[0]) & (fwhm <= fwhm_range[1])
    if max_stars is None or ok.sum() <= max_stars:
        return float(min_snr), int(ok.sum())
    # the FWHM shared by most candidates, as PSFEx's automatic selection looks for
    values = np.sort(fwhm[ok])
    counts = (np.searchsorted(values, values * (1 + variability), side="right")
              - np.searchsorted(values, values * (1 - variability), side="left"))
    mode = values[int(np.argmax(counts))]
    ok &= np.abs(fwhm - mode) <= variability * mode
    if ok.sum() <= max_stars:
        return float(min_snr), int(ok.sum())
    threshold = np.sort(snr[ok])[::-1][max_stars - 1]
    threshold = max(float(min_snr), float(threshold) * (1 - 1e-6))
    return threshold, int((ok & (snr >= threshold)).sum())


@dataclass(frozen=True)
class PSFExData:
    """A PSFEx model as read from its ``.psf`` file.

    Parameters
    ----------
    basis : numpy.ndarray
        ``(ncoeff, ny, nx)`` float64 cube ``PSF_MASK``: one image per polynomial term.
    names : tuple of str
        Context parameters (``POLNAMEi``), e.g. ``("X_IMAGE", "Y_IMAGE")``.
    zero, scale : tuple of float
        ``POLZEROi`` and ``POLSCALi``: a context value ``v`` enters the polynomial as
        ``(v - zero) / scale``.
    degree : int
        Polynomial degree (``POLDEG1``; one context group).
    sampling : float
        ``PSF_SAMP``, the model's pixel step in image pixels.
    accepted, loaded : int
        Stars used and candidates read by PSFEx.
    chi2 : float
        Reduced chi2 of the fit.
    fwhm : float
        ``PSF_FWHM``: the stellar FWHM in image pixels PSFEx's star selection estimated
        from the catalogue (twice the ``FLUX_RADIUS`` mode), not a fit of the model.
    """

    basis: np.ndarray
    names: tuple
    zero: tuple
    scale: tuple
    degree: int
    sampling: float
    accepted: int
    loaded: int
    chi2: float
    fwhm: float

    def coefficients(self, context):
        """Return the polynomial terms for the context values ``context`` (one per name)."""
        if len(context) != len(self.names):
            msg = f"the model needs {len(self.names)} context values, got {len(context)}"
            raise ValueError(msg)
        scaled = [(v - z) / s for v, z, s in zip(context, self.zero, self.scale, strict=True)]
        return polynomial_terms(scaled, self.degree)

    def image(self, context):
        """Return the model image (``(ny, nx)``, float64) at the given context values."""
        return np.tensordot(self.coefficients(context), self.basis, axes=1)


def polynomial_terms(values, degree):
    """Return PSFEx's polynomial terms of scaled context values, in PSFEx's order.

    The first variable varies fastest: for ``(x, y)`` and degree 2 the terms are
    ``1, x, x**2, y, x*y, y**2`` (every ``x**i * y**j`` with ``i + j <= degree``, loop over
    ``j`` outside). This is the order of ``poly_func`` in PSFEx and of its ``PSF_MASK``.

    Parameters
    ----------
    values : sequence of float
        Scaled context values (zero to two of them in spike's use; any number works).
    degree : int
        Total degree.

    Returns
    -------
    numpy.ndarray
        1-D array of terms.

    Examples
    --------
    >>> polynomial_terms([2.0, 3.0], 2).tolist()
    [1.0, 2.0, 4.0, 3.0, 6.0, 9.0]
    """
    values = [float(v) for v in values]
    if not values:
        return np.ones(1)

    def terms(dims, budget):
        # all monomials of dims[0..] with total degree <= budget, first dim fastest
        if len(dims) == 1:
            return [dims[0] ** i for i in range(budget + 1)]
        out = []
        for j in range(budget + 1):
            out += [t * dims[-1] ** j for t in terms(dims[:-1], budget - j)]
        return out

    return np.array(terms(values, int(degree)), dtype=float)


def read_psf_file(path):
    """Read a PSFEx ``.psf`` file (its ``PSF_DATA`` binary table).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    PSFExData

    Raises
    ------
    spike.exceptions.PSFMethodError
        When the file lacks the keywords or shapes of a PSFEx model with one context group.
    """
    from astropy.io import fits

    with fits.open(path) as hdul:
        try:
            hdu = hdul["PSF_DATA"]
        except KeyError:
            msg = f"{path}: no PSF_DATA extension; not a PSFEx .psf file"
            raise PSFMethodError(msg) from None
        header = hdu.header
        basis = np.array(hdu.data["PSF_MASK"][0], dtype=np.float64)
    try:
        naxis = int(header["POLNAXIS"])
        names = tuple(str(header[f"POLNAME{i + 1}"]).strip() for i in range(naxis))
        zero = tuple(float(header[f"POLZERO{i + 1}"]) for i in range(naxis))
        scale = tuple(float(header[f"POLSCAL{i + 1}"]) for i in range(naxis))
        ngroup = int(header.get("POLNGRP", 1 if naxis else 0))
        degree = int(header["POLDEG1"]) if naxis else 0
        sampling = float(header["PSF_SAMP"])
    except KeyError as exc:
        msg = f"{path}: missing PSFEx keyword {exc}"
        raise PSFMethodError(msg) from None
    if ngroup > 1:
        msg = f"{path}: {ngroup} context groups; spike reads models with one group only"
        raise PSFMethodError(msg)
    if basis.ndim == 2:
        basis = basis[None]
    nterms = len(polynomial_terms([0.0] * naxis, degree))
    if basis.ndim != 3 or basis.shape[0] != nterms:
        msg = (f"{path}: PSF_MASK has shape {basis.shape}, expected {nterms} images for "
               f"degree {degree} in {naxis} variable(s)")
        raise PSFMethodError(msg)
    return PSFExData(basis=basis, names=names, zero=zero, scale=scale, degree=degree,
                     sampling=sampling, accepted=int(header.get("ACCEPTED", 0)),
                     loaded=int(header.get("LOADED", 0)), chi2=float(header.get("CHI2", 0)),
                     fwhm=float(header.get("PSF_FWHM", 0)))
