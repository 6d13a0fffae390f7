"""A minimal STPSF data directory, written in STPSF's own file formats, for tests.

STPSF's data package (a few GB) cannot be downloaded offline. `write_stpsf_data` writes the
subset that ``stpsf.NIRCam()``, ``stpsf.NIRISS()`` and ``stpsf.roman.WFI()`` open for
``calc_psf`` with the options spike uses, with small but physically sensible contents, so
that the real STPSF code runs end to end. File names, layouts, FITS keywords and table
columns are those STPSF 2.2 reads (found by reading its source and tracing the files it
opens); the contents are synthetic:

``version.txt``
    The data version (``DATA_VERSION``), checked against ``stpsf.DATA_VERSION_MIN``.
``jwst_pupil_RevW_npix1024.fits.gz``, ``JWpupil_segments_RevW_npix1024.fits.gz``
    The JWST entrance pupil (transmission 0/1) and its segment map (1-18, WSS numbering),
    rasterised from the segment and strut polygons in ``stpsf.constants``; STPSF takes the
    array size from the ``npix1024`` in the name, so these are 1024 x 1024.
``JWST_OTE_OPD_cycle1_example_2022-07-30.fits``
    The default OTE wavefront map: a fixed mix of low-order Zernikes over the pupil,
    ``OTE_RMS_NM`` nm rms, in microns (``BUNIT``).
``si_zernikes_isim_cv3.fits``
    The instruments' internal wavefront error: a table of Noll Zernikes 1-36 (metres) at
    a jittered 4 x 4 grid of field points per NIRCam channel and module and for NIRISS, with
    defocus, astigmatism and coma varying linearly over the field (`si_zernikes`), so the
    PSF depends on the detector position.
``<inst>/filters.tsv``, ``<inst>/filters/<filter>_throughput.fits`` (NIRCam, NIRISS)
    The filter list with its default number of wavelengths, and throughput curves (top-hats
    with smooth edges at the filters' published cut-on and cut-off, `FILTER_EDGES`).
``<inst>/OPD/field_dep_table_<inst>.fits``
    The OTE field-dependence model: Legendre coefficients (in field) of Noll Zernikes (in
    the pupil), here only a few nm of linear astigmatism over the instrument's field.
``NIRCam/IPC/KERNEL_IPC_CUBE.fits``, ``KERNEL_PPC_CUBE.fits``
    Inter-pixel and post-pixel capacitance kernels, one extension per SCA (481-490).
``NIRISS/IPC/ipc5by5median_amp<A-D>_<notvoid|void>.fits``, ``voidmask10.fits``
    NIRISS IPC kernels per readout channel, and the map of the detector's epoxy void.
``upscaled_HST_OPD.fits``
    The Roman telescope wavefront map (``WFI_NPIX`` square), ``OTE_RMS_NM`` nm rms.
``WFI/filters.tsv``, ``WFI/filters/WFInn/<filter>_throughput.fits``
    Roman filters and their throughputs, one copy per SCA (STPSF 2.2 reads them per SCA).
``WFI/WIM_<filter>_zernikes_cycle10.csv``
    Roman field-dependent aberrations: Noll Zernikes 1-22 (waves) at the SCA centre and
    four corners (4 px inside the 4096-pixel frame) at three wavelengths, varying over the
    field and between SCAs.
``WFI/pupils/RST_WIM_Filter_<filter>_WFInn.fits.gz``
    Roman pupils: a 2.36 m aperture with a central obscuration and six struts.
"""

import contextlib
import gc
import logging
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

__all__ = [
    "DATA_VERSION",
    "FILTER_EDGES",
    "NIRCAM_FILTERS",
    "NIRISS_FILTERS",
    "OTE_RMS_NM",
    "WFI_DETECTORS",
    "WFI_FILTERS",
    "WFI_NPIX",
    "offline_stpsf",
    "si_zernikes",
    "wfi_zernikes",
    "write_stpsf_data",
]

log = logging.getLogger(__name__)

#: The data version written to ``version.txt``.
DATA_VERSION = "2.2.0"

#: Half-power cut-on and cut-off (microns) of the filters written; published values.
FILTER_EDGES = {
    "F200W": (1.755, 2.226),
    "F444W": (3.881, 4.982),
    "F405N": (4.031, 4.080),
    "F150W": (1.331, 1.668),
    "F277W": (2.416, 3.127),
    "F158": (1.380, 1.774),
    "F087": (0.760, 0.977),
}

#: NIRCam filters written by default, with STPSF's default number of wavelengths.
NIRCAM_FILTERS = {"F200W": 9, "F444W": 9, "F405N": 3}

#: NIRISS filters written by default (F277W is used with the CLEARP pupil).
NIRISS_FILTERS = {"F150W": 9, "F277W": 9}

#: Roman WFI filters written by default (the first is STPSF's default filter).
WFI_FILTERS = {"F087": 9, "F158": 9}

#: Roman SCAs whose pupils and throughputs are written by default.
WFI_DETECTORS = ("WFI01", "WFI07")

#: Roman pupil and OPD size (pixels).
WFI_NPIX = 256

#: RMS of the telescope wavefront maps (nm).
OTE_RMS_NM = 60.0

_JWST_NPIX = 1024
_JWST_PUPIL_SCALE = 6.603464 / _JWST_NPIX  # m/pixel: the circumscribed diameter over 1024 px
_ROMAN_DIAMETER = 2.36  # m, outer diameter of the pupil
_ROMAN_OBSCURATION = 0.303  # linear fraction of the diameter
_NIRCAM_SCAS = {f"NRC{m}{i}": str(480 + 5 * (m == "B") + i) for m in "AB" for i in range(1, 6)}
#: (V2 min, V2 max, V3 min, V3 max) arcmin of each field in the SI table (STPSF's ranges).
_SI_FIELDS = {
    **{f"NIRCam{c}W{m}": box for c in "SL"
       for m, box in (("A", (0.2, 2.7, -9.5, -7.0)), ("B", (-2.7, -0.2, -9.5, -7.0)))},
    "NIRISS": (-6.0, -3.6, -12.9, -10.4),
}
#: Boxes of the OTE field-dependence tables (arcmin), around each instrument's field.
_OTE_FIELDS = {"NIRCam": (-2.6, 2.6, -9.4, -6.2), "NIRISS": (-6.1, -3.6, -12.9, -10.4)}
_WFI_WAVELENGTHS = (0.7, 1.5, 2.3)  # microns of the Zernike tables
_WFI_CORNER_MM = 20.44  # the field points' offset from the SCA centre (mm)


def write_stpsf_data(path, *, nircam_filters=None, niriss_filters=None, wfi_filters=None,
                     wfi_detectors=None):
    """Write a minimal STPSF data directory for NIRCam, NIRISS and Roman WFI.

    Parameters
    ----------
    path : str or pathlib.Path
        Directory to create (its parent must exist); use it as ``STPSF_PATH``.
    nircam_filters, niriss_filters, wfi_filters : dict or None, optional
        ``{filter: default nlambda}`` to write (default `NIRCAM_FILTERS`, `NIRISS_FILTERS`,
        `WFI_FILTERS`); every name must be in `FILTER_EDGES`.
    wfi_detectors : sequence of str or None, optional
        Roman SCAs (``"WFI07"``) whose pupils and throughputs are written (default
        `WFI_DETECTORS`).

    Returns
    -------
    pathlib.Path
        The data directory.
    """
    path = Path(path)
    path.mkdir()
    (path / "version.txt").write_text(DATA_VERSION + "\n")
    _write_jwst_common(path)
    _write_nircam(path / "NIRCam", dict(nircam_filters or NIRCAM_FILTERS))
    _write_niriss(path / "NIRISS", dict(niriss_filters or NIRISS_FILTERS))
    _write_wfi(path, dict(wfi_filters or WFI_FILTERS), tuple(wfi_detectors or WFI_DETECTORS))
    log.debug("Wrote a minimal STPSF data directory in %s", path)
    return path


@contextlib.contextmanager
def offline_stpsf(path):
    """Point STPSF at the data directory ``path``, offline, for the duration of the block.

    Sets ``STPSF_PATH`` (and STPSF's configuration item to defer to it), makes STPSF's
    downloader and any socket connection fail, and on exit frees poppy's Zernike-basis
    caches (STPSF's NIRCam model fills them with about 1 GB of 1024 x 1024 cubes) and
    collects the files STPSF leaves open (``stpsf.detectors`` opens the NIRCam IPC kernels
    without closing them: their `ResourceWarning` is expected).

    Parameters
    ----------
    path : str or pathlib.Path
        A directory written by `write_stpsf_data`.

    Yields
    ------
    pathlib.Path
        ``path``.
    """
    import poppy
    import stpsf

    def refuse(*args, **kwargs):
        msg = "network access attempted while STPSF runs on test data"
        raise AssertionError(msg)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stpsf.conf, "STPSF_PATH", "from_environment_variable")
        mp.setenv("STPSF_PATH", str(path))
        mp.setattr(stpsf.utils, "auto_download_stpsf_data", refuse)
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        try:
            yield Path(path)
        finally:
            poppy.zernike.zernike_basis_faster.cache_clear()
            poppy.zernike.cached_zernike1.cache_clear()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()


# ---------------------------------------------------------------------------- helpers


def _write_fits(filename, data, header=None):
    filename.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data, header=fits.Header(header or {})).writeto(filename)


def _zernike_opd(npix, coefficients, aperture):
    """OPD from Noll Zernikes 4-11 (``coefficients[k]`` multiplies Z(k + 4)) over the unit
    disk inscribed in ``npix``, masked by ``aperture``."""
    coords = (np.arange(npix) - (npix - 1) / 2) / ((npix - 1) / 2)
    xx, yy = np.meshgrid(coords, coords)
    r, t = np.hypot(xx, yy), np.arctan2(yy, xx)
    terms = [
        np.sqrt(3) * (2 * r**2 - 1),  # Z4 defocus
        np.sqrt(6) * r**2 * np.sin(2 * t),  # Z5 astigmatism 45
        np.sqrt(6) * r**2 * np.cos(2 * t),  # Z6 astigmatism 0
        np.sqrt(8) * (3 * r**3 - 2 * r) * np.sin(t),  # Z7 coma y
        np.sqrt(8) * (3 * r**3 - 2 * r) * np.cos(t),  # Z8 coma x
        np.sqrt(8) * r**3 * np.sin(3 * t),  # Z9 trefoil
        np.sqrt(8) * r**3 * np.cos(3 * t),  # Z10 trefoil
        np.sqrt(5) * (6 * r**4 - 6 * r**2 + 1),  # Z11 spherical
    ]
    opd = sum(c * term for c, term in zip(coefficients, terms, strict=True))
    return opd * (aperture > 0)


def _scaled_to_rms(opd, aperture, rms):
    inside = aperture > 0
    opd = opd - opd[inside].mean() * inside
    return opd * (rms / np.sqrt(np.mean(opd[inside] ** 2)))


def _throughput_table(name):
    """BinTableHDU of a smooth top-hat between the filter's cut-on and cut-off."""
    lo, hi = FILTER_EDGES[name]
    width = hi - lo
    wave = np.linspace(lo - 0.15 * width - 0.02, hi + 0.15 * width + 0.02, 400)  # microns
    edge = 0.01 * max(width, 0.05)  # 10-90 % rise over ~4 edge widths
    rise = 1.0 / (1.0 + np.exp(-(wave - lo) / edge))
    fall = 1.0 / (1.0 + np.exp((wave - hi) / edge))
    throughput = 0.9 * rise * fall
    hdu = fits.BinTableHDU(Table({"WAVELENGTH": wave * 1e4, "THROUGHPUT": throughput}))
    hdu.header["WAVEUNIT"] = "Angstrom"
    return hdu


def _write_filters(inst_dir, filters, subdirs=("",)):
    inst_dir.mkdir(parents=True, exist_ok=True)
    lines = ["filter\tnlambda"] + [f"{name}\t{n}" for name, n in filters.items()]
    (inst_dir / "filters.tsv").write_text("\n".join(lines) + "\n")
    for sub in subdirs:
        directory = inst_dir / "filters" / sub
        directory.mkdir(parents=True, exist_ok=True)
        for name in filters:
            fits.HDUList([fits.PrimaryHDU(), _throughput_table(name)]).writeto(
                directory / f"{name}_throughput.fits")


# ------------------------------------------------------------------------------- JWST


def _jwst_pupil():
    """Transmission and segment map (1-18) of the JWST pupil, 1024 x 1024."""
    from matplotlib.path import Path as Polygon
    from stpsf import constants

    coords = (np.arange(_JWST_NPIX) - (_JWST_NPIX - 1) / 2) * _JWST_PUPIL_SCALE
    xx, yy = np.meshgrid(coords, coords)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    segments = np.zeros(points.shape[0], dtype=np.int16)
    for name, vertices in constants.JWST_PRIMARY_SEGMENTS:
        segments[Polygon(vertices).contains_points(points)] = int(name.split("-")[1])
    for _, vertices in constants.JWST_PRIMARY_STRUTS:
        segments[Polygon(vertices).contains_points(points)] = 0
    segments = segments.reshape(xx.shape)
    return (segments > 0).astype(np.float32), segments


def _write_jwst_common(path):
    transmission, segments = _jwst_pupil()
    header = {"PUPLSCAL": _JWST_PUPIL_SCALE, "PIXUNIT": "meter", "DIAM": 6.603464}
    _write_fits(path / f"jwst_pupil_RevW_npix{_JWST_NPIX}.fits.gz", transmission, header)
    _write_fits(path / f"JWpupil_segments_RevW_npix{_JWST_NPIX}.fits.gz", segments,
                dict(header, VERSION="synthetic"))
    # OTE wavefront: mostly defocus, astigmatism and spherical (PSF symmetric about its
    # centre), a little coma and trefoil
    opd = _zernike_opd(_JWST_NPIX, [1.0, 0.6, -0.4, 0.05, 0.05, 0.1, -0.1, 0.3], transmission)
    opd = _scaled_to_rms(opd, transmission, OTE_RMS_NM * 1e-3)
    _write_fits(path / "JWST_OTE_OPD_cycle1_example_2022-07-30.fits", opd.astype(np.float32),
                dict(header, BUNIT="micron"))
    si_zernikes().write(path / "si_zernikes_isim_cv3.fits")


def si_zernikes():
    """The SI wavefront table written as ``si_zernikes_isim_cv3.fits``.

    Returns
    -------
    astropy.table.Table
        Columns ``instrument`` (``NIRCamSWA`` ... ``NIRISS``), ``field_point_name``, ``V2``,
        ``V3`` (arcmin) and ``Zernike_1`` ... ``Zernike_36`` (metres). Over each field,
        defocus goes from 10 to 70 nm along V2 and astigmatism from -30 to 30 nm along V3;
        coma is at most 3 nm and every higher term about 0.5 nm.
    """
    rows = []
    rng = np.random.default_rng(36)
    for name, (v2min, v2max, v3min, v3max) in _SI_FIELDS.items():
        # a 4 x 4 grid 0.1' beyond the field, each point moved by up to 0.04' (measured
        # field points are not on a regular grid; a regular one also makes the cubic
        # interpolation of STPSF 100 x slower)
        grid_v2 = np.linspace(v2min - 0.1, v2max + 0.1, 4)
        grid_v3 = np.linspace(v3min - 0.1, v3max + 0.1, 4)
        for i, j in np.ndindex(4, 4):
            v2, v3 = np.array([grid_v2[i], grid_v3[j]]) + rng.uniform(-0.04, 0.04, 2)
            u = (v2 - v2min) / (v2max - v2min)  # 0..1 over the field
            v = (v3 - v3min) / (v3max - v3min)
            z = np.zeros(36)
            z[3] = (10.0 + 60.0 * u) * 1e-9  # Z4, defocus
            z[4] = (-30.0 + 60.0 * v) * 1e-9  # Z5, astigmatism at 45 deg
            z[5] = 15.0e-9 * (u - v)  # Z6, astigmatism at 0 deg
            z[6] = 3.0e-9 * (2 * u - 1)  # Z7, coma
            # higher orders: ~0.5 nm each, varying over the field
            z[7:] = 0.5e-9 * (1.0 + u - 0.5 * v) / np.sqrt(np.arange(8, 37) / 8)
            rows.append([name, f"{name}_{i}{j}", v2, v3, *z])
    names = ["instrument", "field_point_name", "V2", "V3"]
    names += [f"Zernike_{k}" for k in range(1, 37)]
    return Table(rows=rows, names=names)


def _write_nircam(inst_dir, filters):
    _write_filters(inst_dir, filters)
    _write_field_dependence(inst_dir / "OPD" / "field_dep_table_nircam.fits", "NIRCam")
    # IPC: 0.6 % to each side neighbour; PPC: 0.1 % to the next pixel read along x
    ipc = np.array([[0.0, 0.006, 0.0], [0.006, 0.976, 0.006], [0.0, 0.006, 0.0]])
    ppc = np.array([[0.0, 0.0, 0.0], [0.0, 0.999, 0.001], [0.0, 0.0, 0.0]])
    for name, kernel in (("KERNEL_IPC_CUBE.fits", ipc), ("KERNEL_PPC_CUBE.fits", ppc)):
        hdus = [fits.PrimaryHDU()]
        for sca in _NIRCAM_SCAS.values():
            hdus.append(fits.ImageHDU(kernel[np.newaxis].astype(np.float32), name=sca))
        (inst_dir / "IPC").mkdir(parents=True, exist_ok=True)
        fits.HDUList(hdus).writeto(inst_dir / "IPC" / name)


def _write_field_dependence(filename, instrument):
    """OTE field dependence: 78 Noll Zernikes x 3 Legendre terms (P0, P1(y), P1(x))."""
    xmin, xmax, ymin, ymax = _OTE_FIELDS[instrument]
    n_zernike, n_legendre = 78, 3
    coefficients = np.zeros((n_legendre, n_zernike))  # nm
    coefficients[2, 4] = 4.0  # Z5 (astigmatism at 45 deg) growing linearly along field x
    coefficients[1, 5] = 3.0  # Z6 (astigmatism at 0 deg) along field y
    table = fits.BinTableHDU(Table(coefficients, names=[f"Z{k}" for k in range(1, n_zernike + 1)]))
    header = {
        "INSTR": instrument, "WFBASIS": "Noll Zernikes", "FIEBASIS": "Legendre Polynomials",
        "NCOEFWF": n_zernike, "NCOEFFIE": n_legendre, "FIEORDER": 1, "FANGUNIT": "arcmin",
        "OPDUNIT": "nm", "MINXFIE": xmin, "MAXXFIE": xmax, "MINYFIE": ymin, "MAXYFIE": ymax,
        "V2SIGN": 1, "V3SIGN": 1, "V2ORIGIN": 0.0, "V3ORIGIN": 0.0,
    }
    filename.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(header=fits.Header(header)), table, table.copy()]).writeto(
        filename)


def _write_niriss(inst_dir, filters):
    _write_filters(inst_dir, filters)
    _write_field_dependence(inst_dir / "OPD" / "field_dep_table_niriss.fits", "NIRISS")
    # IPC per readout channel (y // 512): 5 x 5 kernels, 0.5 % (0.7 % over the void) per side
    ipc = inst_dir / "IPC"
    ipc.mkdir(parents=True)
    for amp in "ABCD":
        for name, alpha in (("notvoid", 0.005), ("void", 0.007)):
            kernel = np.zeros((5, 5))
            kernel[2, [1, 3]] = kernel[[1, 3], 2] = alpha
            kernel[2, 2] = 1 - kernel.sum()
            _write_fits(ipc / f"ipc5by5median_amp{amp}_{name}.fits", kernel)
    void = np.zeros((4, 2048), dtype=np.int16)  # [channel, x]: 1 over the epoxy void
    void[0, 1100:1500] = 1
    _write_fits(ipc / "voidmask10.fits", void)


# -------------------------------------------------------------------------------- WFI


def _roman_pupil(npix):
    coords = (np.arange(npix) - (npix - 1) / 2) / ((npix - 1) / 2)  # -1..1 over 2.4 m
    xx, yy = np.meshgrid(coords, coords)
    radius = np.hypot(xx, yy) * 1.2
    pupil = (radius <= _ROMAN_DIAMETER / 2) & (radius >= _ROMAN_OBSCURATION * _ROMAN_DIAMETER / 2)
    for k in range(6):  # struts 0.1 m wide
        angle = np.radians(30 + 60 * k)
        along = (xx * np.cos(angle) + yy * np.sin(angle)) * 1.2
        across = (-xx * np.sin(angle) + yy * np.cos(angle)) * 1.2
        pupil &= ~((along > 0) & (np.abs(across) < 0.05))
    return pupil.astype(np.float32)


def wfi_zernikes():
    """The Roman aberration table written as ``WIM_<filter>_zernikes_cycle10.csv`` (the
    same for every filter).

    Returns
    -------
    astropy.table.Table
        Columns ``sca``, ``wavelength`` (microns), ``field_point`` (1 = centre, 2-5 =
        corners), ``local_x``, ``local_y`` (mm) and ``Z1`` ... ``Z22`` (waves). Defocus
        goes from 0.02 to 0.08 waves along ``local_x`` and astigmatism from -0.04 to 0.04
        along ``local_y``; SCA n has ``0.002 n`` waves of 45-degree astigmatism. (Waves at
        1.5 microns; the OPD is the same at every wavelength.)
    """
    points = [(0.0, 0.0)] + [(sx * _WFI_CORNER_MM, sy * _WFI_CORNER_MM)
                             for sx in (-1, 1) for sy in (-1, 1)]
    rows = []
    for sca in range(1, 19):
        for wavelength in _WFI_WAVELENGTHS:
            for number, (lx, ly) in enumerate(points, start=1):
                u = lx / _WFI_CORNER_MM  # -1..1
                v = ly / _WFI_CORNER_MM
                z = np.zeros(22)
                z[3] = 0.05 + 0.03 * u  # Z4, defocus
                z[4] = 0.002 * sca  # Z5, astigmatism at 45 deg
                z[5] = 0.04 * v  # Z6, astigmatism at 0 deg
                z *= 1.5 / wavelength  # fixed OPD in nm: waves scale as 1 / wavelength
                rows.append([sca, wavelength, number, lx, ly, *z])
    names = ["sca", "wavelength", "field_point", "local_x", "local_y"]
    names += [f"Z{k}" for k in range(1, 23)]
    return Table(rows=rows, names=names)


def _write_wfi(path, filters, detectors):
    inst_dir = path / "WFI"
    _write_filters(inst_dir, filters, subdirs=detectors)
    table = wfi_zernikes()
    for name in filters:
        table.write(inst_dir / f"WIM_{name}_zernikes_cycle10.csv", format="ascii.csv")
    pupil = _roman_pupil(WFI_NPIX)
    header = {"PUPLSCAL": 2.4 / WFI_NPIX, "PIXUNIT": "meter"}
    for det in detectors:
        for name in filters:
            filename = inst_dir / "pupils" / f"RST_WIM_Filter_{name}_{det}.fits.gz"
            _write_fits(filename, pupil, header)
    opd = _zernike_opd(WFI_NPIX, [0.5, -0.7, 0.4, 0.05, -0.05, 0.1, 0.1, 0.3], pupil)
    opd = _scaled_to_rms(opd, pupil, OTE_RMS_NM * 1e-3)
    _write_fits(path / "upscaled_HST_OPD.fits", opd.astype(np.float32),
                dict(header, BUNIT="micron"))
