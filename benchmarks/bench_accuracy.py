"""Accuracy benchmark: how well each PSF method's drizzled PSF matches the mosaic's stars.

For every data set (real HST exposures drizzled by AstroDrizzle; simulated JWST and Roman
exposures whose stars are drawn with a PSF *independent* of the method scored) and every
method, the drizzled PSF is made at isolated stars of the science mosaic and compared with
them by `spike.accuracy.score_psfs`: star and PSF cut from the same mosaic pixels with the
same mask and background annulus (14-19 px), normalised within 12 px; centroid
(`centroid_2dg`), FWHM (`fit_fwhm`, 9x9 px) and encircled energy EE(r) about each one's
own centroid. Printed per data set and method: the number of stars, the median centroid
offset (mosaic px), FWHM ratio PSF/star, EE ratios at 2, 4 and 8 px (> 1: the PSF is too
concentrated), the residual (max and rms, relative to the star's peak) and the flux a PSF
fit within 4 px gives the star (< 1: PSF photometry comes out low).

Methods that build or fit their PSF from the exposures' own stars (``epsf``, ``psfex``,
``optical`` with ``fit``) are cross-validated: the scoring stars are split into two
random halves; the PSF built without the stars of one half (option ``exclude_stars``)
is scored on that half, and both halves are reported.

Star positions, where the PSFs are placed, are measured on an exposure at its native
sampling (HST) or are the simulation's truth: a centroid measured on the mosaic carries
the drizzle's pixel-phase bias.

Usage::

    python benchmarks/bench_accuracy.py [--datasets acs_hrc,wfpc2] [--methods optical,epsf]
        [--workdir DIR] [--max-stars 30] [--ecsv results.ecsv] [--plot profiles.png]
"""

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _accuracy_data import BUILDERS  # noqa: E402

#: Methods scored per data set when --methods is not given.
DEFAULT_METHODS = {
    "acs_hrc": ["optical", "optical:fit=True", "epsf", "psfex", "tinytim"],
    "wfpc2_pc1": ["optical", "optical:fit=True", "epsf", "psfex", "tinytim"],
    "wfpc2_wf3": ["optical", "optical:fit=True", "epsf", "psfex", "tinytim"],
    "nircam": ["optical", "optical:fit=True", "epsf", "psfex", "stpsf"],
    "roman": ["galsim", "epsf", "psfex", "stpsf"],
}
#: Methods that use the exposures' own stars (cross-validated).
_STAR_METHODS = {"epsf", "psfex"}
#: Annulus edges (mosaic px) of the radial profiles saved and plotted.
PROFILE_EDGES = np.concatenate([np.arange(0.0, 4.0, 0.5), np.arange(4.0, 12.5, 1.0)])
COLUMNS = ("n", "offset", "fwhm_ratio", "ee_ratio_2", "ee_ratio_4", "ee_ratio_8",
           "resid_max", "resid_rms", "psf_flux")


def parse_method(spec):
    """``"optical:fit=True"`` -> ``("optical", "fit=True")``."""
    name, _, options = spec.partition(":")
    return name, options or None


def uses_stars(name, options):
    """True when the method builds or fits the PSF from the exposures' own stars."""
    return name in _STAR_METHODS or (name == "optical" and "fit=" in (options or "")
                                     and "fit=False" not in options)


def run_method(dataset, stars_xy, name, options, *, exclude=None):
    """Drizzle the PSF of ``name`` at ``stars_xy`` and score it; return the score table."""
    from spike.accuracy import score_psfs
    from spike.steps import DrizzlePSFStep

    ra, dec = dataset.to_world(*stars_xy)
    opts = options
    if exclude is not None:
        # plain floats: a numpy 2 scalar's repr ("np.float64(...)") does not parse
        ra_ex, dec_ex = dataset.to_world(*exclude)
        pairs = ",".join(f"({float(a)!r},{float(b)!r})" for a, b in zip(ra_ex, dec_ex,
                                                                         strict=True))
        opts = f"{options + ',' if options else ''}exclude_stars=[{pairs}]"
    result = DrizzlePSFStep.call(dataset.input, ra=list(ra), dec=list(dec),
                                 reference_mosaic=dataset.mosaic, method=name,
                                 method_options=opts)
    return score_psfs(result, dataset.data, weight=dataset.weight,
                      profile_edges=PROFILE_EDGES)


def score_dataset(dataset, methods, *, max_stars, seed=0):
    """Score every method on one data set; return ``[(method, half, table), ...]``."""
    from spike.accuracy import find_scoring_stars, split_halves
    from spike.exceptions import SpikeError

    stars = find_scoring_stars(dataset.data, bad=~(dataset.weight > 0),
                               saturated=dataset.saturated)
    if dataset.select is not None:
        stars = stars[dataset.select(np.asarray(stars["x"]), np.asarray(stars["y"]))]
    stars = stars[:max_stars]
    x, y = np.asarray(stars["x"], float), np.asarray(stars["y"], float)
    if dataset.refine is not None:
        x, y = dataset.refine(x, y)
    print(f"\n{dataset.name}: {dataset.description}; {len(x)} stars ({dataset.truth})",
          flush=True)
    halves = split_halves(len(x), seed=seed)
    out = []
    for spec in methods:
        name, options = parse_method(spec)
        start = time.perf_counter()
        try:
            if uses_stars(name, options):
                for k, half in enumerate(halves):
                    table = run_method(dataset, (x[half], y[half]), name, options,
                                       exclude=(x[half], y[half]))
                    out.append((spec, f"half {k + 1}", table))
            else:
                out.append((spec, "all", run_method(dataset, (x, y), name, options)))
        except (SpikeError, ValueError) as exc:
            print(f"  {spec}: not available here ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:150]})", flush=True)
            continue
        print(f"  {spec}: {time.perf_counter() - start:.0f} s", flush=True)
    return out


def print_table(results):
    """Print one line per (data set, method, half) with the median scores."""
    from spike.accuracy import summarize

    head = (f"{'data set':10s} {'method':18s} {'stars':9s} {'n':>3s} {'centroid':>8s} "
            f"{'FWHM':>6s} {'EE(2)':>6s} {'EE(4)':>6s} {'EE(8)':>6s} {'res.max':>7s} "
            f"{'res.rms':>7s} {'PSF-fit flux':>12s}")
    print("\n" + head + "\n" + "-" * len(head))
    for dataset, method, half, table in results:
        s = summarize(table)
        print(f"{dataset:10s} {method:18s} {half:9s} {s['n']:3d} {s['offset']:8.3f} "
              f"{s['fwhm_ratio']:6.3f} {s['ee_ratio_2']:6.3f} {s['ee_ratio_4']:6.3f} "
              f"{s['ee_ratio_8']:6.3f} {s['resid_max']:7.4f} {s['resid_rms']:7.4f} "
              f"{s['psf_flux']:12.3f}")


def save_ecsv(results, path):
    """All per-star scores in one ECSV table (columns dataset, method, half first)."""
    from astropy.table import vstack

    tables = []
    for dataset, method, half, table in results:
        t = table.copy()
        t.add_column(dataset, name="dataset", index=0)
        t.add_column(method, name="method", index=1)
        t.add_column(half, name="half", index=2)
        tables.append(t)
    if tables:
        vstack(tables).write(path, overwrite=True)
        print(f"per-star scores: {path}")


def plot_profiles(results, path):
    """Median radial profiles, PSF (lines) vs stars (points), one panel per data set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r[0] for r in results))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4.2), squeeze=False)
    centres = 0.5 * (PROFILE_EDGES[1:] + PROFILE_EDGES[:-1])
    for ax, name in zip(axes[0], names, strict=True):
        rows = [r for r in results if r[0] == name]
        star = np.vstack([np.asarray(r[3]["profile_star"]) for r in rows])
        ax.semilogy(centres, np.nanmedian(star, axis=0), "ko", label="stars", ms=4)
        for method in dict.fromkeys(r[1] for r in rows):
            psf = np.vstack([np.asarray(r[3]["profile_psf"]) for r in rows if r[1] == method])
            ax.semilogy(centres, np.nanmedian(psf, axis=0), "-", label=method)
        ax.set_title(name)
        ax.set_xlabel("radius (mosaic px)")
        ax.set_ylabel("normalised surface brightness")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"profile figure: {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(BUILDERS),
                        help="comma-separated: " + ", ".join(BUILDERS))
    parser.add_argument("--methods", default=None,
                        help="semicolon-separated method specs, name[:options] (e.g. 'optical;epsf:box_size=21'); default per data set")
    parser.add_argument("--workdir", default="/tmp/spike-accuracy",
                        help="where data sets are built and kept (default: %(default)s)")
    parser.add_argument("--max-stars", type=int, default=30)
    parser.add_argument("--ecsv", default=None, help="write per-star scores here")
    parser.add_argument("--plot", default=None, help="write the radial-profile figure here")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the steps' INFO/WARNING records; results are printed
    warnings.simplefilter("ignore")
    results = []
    for key in args.datasets.split(","):
        if key not in BUILDERS:
            parser.error(f"unknown data set {key!r}; choose from {', '.join(BUILDERS)}")
        for dataset in BUILDERS[key](args.workdir):
            methods = (args.methods.split(";") if args.methods
                       else DEFAULT_METHODS.get(dataset.name, ["optical", "epsf", "psfex"]))
            for method, half, table in score_dataset(dataset, methods,
                                                     max_stars=args.max_stars):
                results.append((dataset.name, method, half, table))
    print_table(results)
    if args.ecsv:
        save_ecsv(results, args.ecsv)
    if args.plot and results:
        plot_profiles(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
