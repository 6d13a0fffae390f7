"""Effective PSFs built from the exposure's own stars, ``--method epsf``.

`EPSFMethod.prepare` loads the exposure's pixels (`~spike.psf.base.DetectorInfo.pixels`),
selects isolated, unsaturated, DQ-clean, bright stars (`spike.psf._epsf_stars`) and builds
an oversampled effective PSF (ePSF) from them, once per exposure or chip. When the stars
cover the detector well enough, one ePSF per cell of an ``n x n`` grid is built and
`EPSFModel.evaluate` interpolates bilinearly between the grid points (the mean position of
the stars of each column and row of cells; constant beyond the outer points, as
`photutils.psf.GriddedPSFModel` does); otherwise a single ePSF serves the whole exposure.
`EPSFModel.evaluate` only cuts, pads or mixes the stored arrays: it never rebuilds.

The ePSF is built by `spike.psf._epsf_build.build_epsf` (the iterative scheme of Anderson
& King 2000 that `photutils.psf.EPSFBuilder` follows, vectorised for speed). Its centre is
the centre of mass of its central 4x4 detector pixels (the +-2 px box; photutils uses 5x5,
whose wider box lets an asymmetric core, as ACS/HRC's, pull the centre 0.02-0.03 px away
from where Gaussian centroids put the stars). Cell
ePSFs refine the core (`CELL_CORE`) of the exposure's ePSF with the stars of the cell
only: the spatial variation lives in the core, and a cell has too few stars to pin down
the faint wings.

The ePSF is ``box_size * oversampling`` samples wide with its centre at the array centre,
i.e. exactly the `spike.psf.base` stamp convention, and zero beyond ``box_size / 2`` px
(the disc inscribed in the star boxes, the radius the stars constrain); each star's local
background comes from an annulus just outside it (`spike.psf._epsf_stars`), corrected for
the star's own halo there. With ``wings="model"`` (the default) the ePSF is then extended
to ``wings_size`` px by the physical model of the detector (`spike.psf._wings`: the
``optical`` model for HST and JWST, GalSim's for Roman), joined over an annulus inside
the support, and normalised so that the stored arrays sum to ``oversampling**2`` times the
model's enclosed fraction in that stamp: stamps of any size hold the fraction of the flux
inside them. Without wings the ePSF is normalised to unit flux within its support.
`EPSFModel.diagnostics` records the build (stars, residual, halo level, wings).
"""

import logging
import time

import numpy as np

from spike.exceptions import PSFMethodError
from spike.psf._epsf import check_size, render_epsf
from spike.psf._epsf_build import MAX_WEIGHT, build_epsf
from spike.psf._epsf_grid import cap_stars, cell_index, choose_grid, rejection_summary
from spike.psf._epsf_stars import select_stars
from spike.psf._holdout import (
    DEFAULT_RADIUS,
    check_exclude_radius,
    exclusion_pixels,
    parse_exclude_stars,
)
from spike.psf._wings import (
    check_wings,
    halo_level,
    join_wings,
    radii,
    transition,
    wing_model,
)
from spike.psf.base import PSFMethod, PSFModel

__all__ = ["EPSFMethod", "EPSFModel"]

log = logging.getLogger(__name__)

#: Iterations refining the exposure's ePSF with the stars of one grid cell.
CELL_ITERS = 4
#: Residual smoothing multiplier for cell ePSFs.
CELL_SMOOTHING = 1.0
#: Cell ePSFs differ from the exposure's only within this radius (px): the spatial
#: variation is in the core, while a cell has too few stars to pin down the faint wings.
CELL_CORE = 4.0


class EPSFModel(PSFModel):
    """The ePSF(s) of one exposure: a single array or a grid of them (see `EPSFMethod`).

    Parameters
    ----------
    epsfs : numpy.ndarray
        ``(ny_grid, nx_grid, m, m)`` ePSFs centred on the array centre, each summing to
        ``oversampling**2`` times the fraction of the flux inside it (``m = box_size *
        oversampling`` without wings, ``wings_size * oversampling`` with them).
    grid_x, grid_y : numpy.ndarray
        Detector positions of the grid points along x and y (the mean position of the
        stars of each column and row of cells), increasing; one value each for a single
        ePSF.
    oversampling : int
        ePSF samples per detector pixel.
    n_stars : int
        Number of stars the ePSF(s) were built from.

    Attributes
    ----------
    stars : dict
        Positions ``x``, ``y``, fitted ``flux`` and ``snr`` of the stars used (for
        diagnostics), filled by `EPSFMethod.prepare`.
    build_time : float
        Seconds spent in `EPSFMethod.prepare` (selection and build).
    diagnostics : dict
        Plain JSON-able values describing the build (``n_stars``, ``residual_rms``,
        ``wings``, ...), recorded per exposure in the products.
    """

    def __init__(self, epsfs, grid_x, grid_y, *, oversampling, n_stars):
        self.epsfs = np.asarray(epsfs, dtype=float)
        self.grid_x = np.atleast_1d(np.asarray(grid_x, dtype=float))
        self.grid_y = np.atleast_1d(np.asarray(grid_y, dtype=float))
        self.oversampling = int(oversampling)
        self.n_stars = int(n_stars)
        self.stars = {}
        self.build_time = 0.0
        self.diagnostics = {}

    @property
    def is_gridded(self):
        """True when the ePSF varies over the detector (more than one grid point)."""
        return self.epsfs.shape[0] * self.epsfs.shape[1] > 1

    @staticmethod
    def _weights(grid, value):
        """Return the two grid indices bracketing ``value`` (clamped) and the weight."""
        if len(grid) == 1:
            return 0, 0, 0.0
        t = np.interp(value, grid, np.arange(len(grid)))
        i0 = min(int(np.floor(t)), len(grid) - 2)
        return i0, i0 + 1, t - i0

    def epsf_at(self, x, y):
        """Return the full ePSF array at detector position ``(x, y)`` (bilinear in the grid).

        Parameters
        ----------
        x, y : float
            0-based detector position.

        Returns
        -------
        numpy.ndarray
            ``(box_size * oversampling, box_size * oversampling)`` ePSF.
        """
        ix0, ix1, fx = self._weights(self.grid_x, float(x))
        iy0, iy1, fy = self._weights(self.grid_y, float(y))
        e = self.epsfs
        return ((1 - fy) * ((1 - fx) * e[iy0, ix0] + fx * e[iy0, ix1])
                + fy * ((1 - fx) * e[iy1, ix0] + fx * e[iy1, ix1]))

    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at detector position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based detector position.
        size : int
            Odd stamp width in detector pixels.

        Returns
        -------
        numpy.ndarray
            ``(size * oversampling, size * oversampling)`` float64 ePSF, centred on the
            array centre, summing to ``oversampling**2`` times the fraction of the ePSF's
            flux inside the stamp.
        """
        size = check_size(size)
        return render_epsf(self.epsf_at(x, y), psf_oversampling=self.oversampling,
                           oversampling=self.oversampling, size=size, normalize=False)

    def to_photutils(self):
        """Return the ePSF as a photutils ``ImagePSF`` (single) or ``GriddedPSFModel``.

        Returns
        -------
        `photutils.psf.ImagePSF` or `photutils.psf.GriddedPSFModel`
        """
        from astropy.nddata import NDData
        from photutils.psf import GriddedPSFModel, ImagePSF

        m = self.epsfs.shape[-1]
        if not self.is_gridded:
            return ImagePSF(self.epsfs[0, 0].copy(), origin=((m - 1) / 2,) * 2,
                            oversampling=self.oversampling)
        xy = [(gx, gy) for gy in self.grid_y for gx in self.grid_x]
        meta = {"grid_xypos": xy, "oversampling": self.oversampling}
        return GriddedPSFModel(NDData(self.epsfs.reshape(-1, m, m).copy(), meta=meta))


def _number(name, value, *, minimum, integer=False, odd=False, none=False):
    """Validate a numeric option; return it as int or float (or None when allowed)."""
    if value is None and none:
        return None
    try:
        ok = not isinstance(value, (bool, np.bool_)) and float(value) >= minimum
        ok = ok and (not integer or int(value) == value) and (not odd or int(value) % 2 == 1)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        kind = "an odd integer" if odd else "an integer" if integer else "a number"
        msg = f"{name} must be {kind} >= {minimum}{' or None' if none else ''}, got {value!r}"
        raise ValueError(msg)
    return int(value) if integer else float(value)


class EPSFMethod(PSFMethod):
    """Effective PSFs built from the exposure's own stars, once per exposure or chip.

    Parameters
    ----------
    oversampling : int, optional
        ePSF samples per detector pixel (default 4).
    box_size : int, optional
        Odd width (px) of the star boxes and of the ePSF (default 25): the ePSF is
        measured within ``box_size / 2`` px of its centre; each star's local background
        comes from the annulus 1 to 5 px beyond.
    min_snr : float, optional
        Minimum signal-to-noise ratio of a star's background-subtracted flux in its box
        (default 50).
    isolation : float or None, optional
        Radius (px) within which no neighbour may be brighter than ``isolation_ratio``
        times the star's peak and no pixel may be saturated; None (default) means
        ``box_size // 2``.
    isolation_ratio : float, optional
        Neighbour / star peak ratio above which a neighbour spoils a star (default 0.1).
        Fainter neighbours are left to the clipping of the stack across stars.
    max_peak : float or None, optional
        Reject stars whose brightest pixel reaches this value, in the data's units
        (non-linearity); None (default) relies on the saturation flags alone.
    edge : int, optional
        Minimum distance (px) between a star's background annulus and the detector border
        (default 5).
    clean_radius : float or None, optional
        Radius (px) within which every pixel must be usable (DQ-clean); None (default)
        requires the whole box. Unusable pixels outside the radius get zero weight.
    sharpness_clip : float, optional
        Reject candidates whose peak / 3x3-flux ratio lies more than this many robust
        standard deviations from the median of the candidates (cosmic rays, hot pixels,
        blends, galaxies; default 5).
    max_stars : int, optional
        At most this many stars (highest S/N, spread over the grid cells) are used
        (default 150); caps the build time.
    min_stars : int, optional
        Fewer qualifying stars than this raise `~spike.exceptions.PSFMethodError`
        (default 10, at least 3).
    grid_size : int, optional
        Largest number of grid cells per axis for a spatially varying ePSF (default 3);
        1 always builds a single ePSF.
    min_stars_per_cell : int, optional
        An ``n x n`` grid is used only when every cell holds at least this many stars
        (default 15); the largest such ``n <= grid_size`` wins, else a single ePSF.
    maxiters : int, optional
        Maximum number of ePSF build iterations (default 6).
    exclude_stars : str, list of (float, float), SkyCoord or None, optional
        Stars not to use (held out for cross-validation): a path to an ECSV/CSV catalog
        with ``ra``, ``dec`` columns (deg), a list of ``(ra, dec)`` pairs or a SkyCoord
        (see `spike.psf._holdout`); None (default) uses every qualifying star.
    exclude_radius : float, optional
        Candidates within this many arcsec of an ``exclude_stars`` position are rejected
        (default 0.5).
    wings : {"model", None}, optional
        ``"model"`` (default): extend the ePSF beyond the radius its stars constrain with
        the wings of the detector's physical model (``optical`` for HST and JWST, GalSim's
        Roman model for Roman; see `spike.psf._wings`), and use that model for the halo
        light in the stars' background annuli. None, or a detector no model supports:
        the ePSF stops at its star boxes (the halo in the background annuli is then
        extrapolated from the ePSF's outer profile).
    wings_size : int, optional
        Odd width (px) of the extended ePSF (default 81, i.e. out to 40 px: 1" for
        ACS/HRC; at least ``box_size``).
    """

    name = "epsf"
    missions = ("hst", "jwst", "roman")

    def __init__(self, *, oversampling=4, box_size=25, min_snr=50.0, isolation=None,
                 isolation_ratio=0.1, max_peak=None, edge=5, clean_radius=None,
                 sharpness_clip=5.0, max_stars=150, min_stars=10, grid_size=3,
                 min_stars_per_cell=15, maxiters=6, exclude_stars=None,
                 exclude_radius=DEFAULT_RADIUS, wings="model", wings_size=81):
        box_size = _number("box_size", box_size, minimum=11, integer=True, odd=True)
        if isolation is None:
            isolation = box_size // 2
        min_stars = _number("min_stars", min_stars, minimum=3, integer=True)
        params = {
            "box_size": box_size,
            "min_snr": _number("min_snr", min_snr, minimum=0),
            "isolation": _number("isolation", isolation, minimum=0),
            "isolation_ratio": _number("isolation_ratio", isolation_ratio, minimum=0),
            "max_peak": _number("max_peak", max_peak, minimum=-np.inf, none=True),
            "edge": _number("edge", edge, minimum=0, integer=True),
            "clean_radius": _number("clean_radius", clean_radius, minimum=0, none=True),
            "sharpness_clip": _number("sharpness_clip", sharpness_clip, minimum=0),
            "max_stars": _number("max_stars", max_stars, minimum=min_stars, integer=True),
            "min_stars": min_stars,
            "grid_size": _number("grid_size", grid_size, minimum=1, integer=True),
            "min_stars_per_cell": _number("min_stars_per_cell", min_stars_per_cell,
                                          minimum=1, integer=True),
            "maxiters": _number("maxiters", maxiters, minimum=1, integer=True),
            "wings": check_wings(wings),
            "wings_size": _number("wings_size", wings_size, minimum=box_size, integer=True,
                                  odd=True),
        }
        self.exclude_stars = parse_exclude_stars(exclude_stars)
        params["exclude_stars"] = None if self.exclude_stars is None else self.exclude_stars.label
        params["exclude_radius"] = check_exclude_radius(exclude_radius)
        super().__init__(oversampling=oversampling, **params)

    def prepare(self, detector):
        """Select stars in the exposure and build its ePSF (grid).

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            The exposure (or chip); ``detector.pixels`` must load its pixels.

        Returns
        -------
        EPSFModel

        Raises
        ------
        spike.exceptions.PSFMethodError
            For an unsupported mission, missing pixels, or too few qualifying stars.
        """
        start = time.perf_counter()
        where = f"exposure {detector.filename or detector.label()!r} (detector {detector.detector})"
        if not self.supports(detector):
            msg = (f"PSF method 'epsf' supports missions {', '.join(self.missions)}, "
                   f"not {detector.mission!r}")
            raise PSFMethodError(msg)
        if detector.pixels is None:
            msg = (f"PSF method 'epsf' needs the exposure's pixels to select stars, but "
                   f"none are available for {where} (DetectorInfo.pixels is None)")
            raise PSFMethodError(msg)
        p = self.params
        exclude_xy, exclude_px = exclusion_pixels(self.exclude_stars, detector,
                                                  radius=p["exclude_radius"])
        pixels = detector.pixels()
        log.debug("epsf %s: options %s", where, self.describe())
        stars = select_stars(pixels, box_size=p["box_size"], min_snr=p["min_snr"],
                             isolation=p["isolation"], isolation_ratio=p["isolation_ratio"],
                             max_peak=p["max_peak"], edge=p["edge"],
                             clean_radius=p["clean_radius"], sharpness_clip=p["sharpness_clip"],
                             exclude_xy=exclude_xy, exclude_radius=exclude_px)
        if len(stars) < p["min_stars"]:
            msg = (f"PSF method 'epsf' found {len(stars)} usable star(s) in {where}, but needs "
                   f"at least min_stars={p['min_stars']}: {rejection_summary(stars, p)}")
            raise PSFMethodError(msg)
        shape = np.shape(pixels.data)
        n = choose_grid(stars.x, stars.y, shape, grid_size=p["grid_size"],
                        min_stars_per_cell=p["min_stars_per_cell"], max_stars=p["max_stars"])
        n_qualified = len(stars)
        stars = stars.subset(cap_stars(stars.x, stars.y, stars.snr, shape, n_grid=n,
                                       max_stars=p["max_stars"]))
        wings = None
        if p["wings"] == "model":
            wings = wing_model(detector, oversampling=self.oversampling,
                               size=max(p["wings_size"], p["box_size"]))
        model, fit = self._build(stars, n, shape, wings, where)
        model.build_time = time.perf_counter() - start
        model.diagnostics.update(
            n_candidates=int(stars.n_candidates), n_qualified=int(n_qualified),
            iterations=int(fit["iterations"]), build_time=round(model.build_time, 3),
            rejected={k: int(v) for k, v in stars.rejected.items()})
        kind = f"{n}x{n} grid of ePSFs" if n > 1 else "single ePSF"
        log.info("epsf %s: %s from %d stars (%d candidates, %d qualified), %d iterations, "
                 "wings %s, %.2f s", where, kind, model.n_stars, stars.n_candidates,
                 n_qualified, fit["iterations"], model.diagnostics["wings"], model.build_time)
        return model

    def _build(self, stars, n, shape, wings, where):
        """Build the exposure's ePSF, the cell ePSFs and join the wings; return the model."""
        p, over = self.params, self.oversampling
        support = p["box_size"] // 2 + 0.5
        reference = None
        if wings is not None:
            reference = wings.at(float(np.mean(stars.x)), float(np.mean(stars.y)))

        def halo(epsf, level):
            return halo_level(epsf, over, support=support, annulus=stars.annulus,
                              model=reference, offset=level)

        options = {"oversampling": over, "support": support, "halo": halo}
        try:
            epsf, fit = build_epsf(stars.cutouts, stars.weights, stars.errors,
                                   stars.x - stars.origins[:, 0], stars.y - stars.origins[:, 1],
                                   maxiters=p["maxiters"], **options)
        except PSFMethodError as exc:
            msg = (f"PSF method 'epsf' could not build an ePSF for {where} from "
                   f"{len(stars)} stars: {exc}")
            raise PSFMethodError(msg) from exc
        use = fit["use"]
        epsfs = np.broadcast_to(epsf, (n, n, *epsf.shape)).copy()
        cells = cell_index(stars.x, stars.y, shape, n)
        for c in range(n * n if n > 1 else 0):
            sel = np.nonzero(use & (cells == c))[0]
            try:
                epsfs[c // n, c % n], _ = build_epsf(
                    stars.cutouts[sel], stars.weights[sel], stars.errors[sel], fit["xc"][sel],
                    fit["yc"][sel], flux=fit["flux"][sel], maxiters=CELL_ITERS, epsf=epsf,
                    smoothing=CELL_SMOOTHING, core=CELL_CORE, **options)
            except PSFMethodError as exc:  # keep the exposure's ePSF for this cell
                log.warning("epsf %s: cell %d of the %dx%d grid keeps the exposure's ePSF (%s)",
                            where, c, n, n, exc)
        # grid points: mean star position of each column / row of cells, weighted as the
        # stars' cores weigh in the stack (flux, capped), where the cell ePSFs apply (a
        # rectangular grid, as photutils' GriddedPSFModel requires)
        weight = np.minimum(fit["flux"] / np.median(fit["flux"][use]), MAX_WEIGHT) * use
        grid_x = [np.average(stars.x[cells % n == j], weights=weight[cells % n == j])
                  for j in range(n)]
        grid_y = [np.average(stars.y[cells // n == i], weights=weight[cells // n == i])
                  for i in range(n)]
        diagnostics = {"n_stars": int(use.sum()), "grid": int(n),
                       "residual_rms": round(fit["residual"], 6),
                       "halo_level": float(fit["halo"]), "support_px": support,
                       "background_annulus_px": [float(r) for r in stars.annulus],
                       "wings": None if wings is None else wings.name}
        if wings is not None:
            joined = np.empty((n, n, *wings.at(grid_x[0], grid_y[0]).shape))
            for i, j in np.ndindex(n, n):
                joined[i, j], _ = join_wings(epsfs[i, j], wings.at(grid_x[j], grid_y[i]),
                                             over, support=support)
            r1, r2 = transition(support)
            inside = radii(joined.shape[-1], over) <= support
            diagnostics.update(wing_radius_px=[r1, r2], wings_size_px=wings.size,
                               flux_in_support=round(float(joined[0, 0][inside].sum())
                                                     / over**2, 5),
                               flux_in_stamp=round(float(joined[0, 0].sum()) / over**2, 5))
            epsfs = joined
        model = EPSFModel(epsfs, grid_x, grid_y, oversampling=over, n_stars=int(use.sum()))
        model.stars = {"x": fit["xc"][use] + stars.origins[use, 0],
                       "y": fit["yc"][use] + stars.origins[use, 1],
                       "flux": fit["flux"][use], "snr": stars.snr[use]}
        model.diagnostics = diagnostics
        return model, fit
