"""Benchmark: drizzled ePSFs of the real ACS/HRC 47 Tuc exposure and 3 dithered copies.

Setup (not timed): four exposures (the real ``j8bt06nyq_flt.fits`` scene and three
sub-pixel dithered copies, `spike.datasets.hst.make_acs_hrc_dithers`), a full AstroDrizzle
science run, and star positions found on the science ``_drz``.

Timed: ``strun drizzle_psf <asn> --catalog=<N stars> --reference_mosaic=<drz> --method=epsf``
in a fresh process for N = 1, 10 and 1000 (wall time including interpreter start-up and
imports; peak resident memory of that process from ``wait4``). Printed per run: wall time,
peak memory, and time per (source, exposure).

Targets on a 2-core machine: 10 sources <= 6 s, 1000 sources <= 60 s, <= 300 MB for 10.

Usage::

    python benchmarks/bench_hst_epsf.py [--method epsf] [--counts 1 10 1000] [--keep DIR]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _runner import run_once  # noqa: E402

OFFSETS = ((0.0, 0.0), (2.5, 1.5), (-1.5, 3.25), (1.25, -2.75))
TARGETS = {10: (6.0, 300.0), 1000: (60.0, None)}


def setup(directory):
    """Dithers, science drizzle and a catalog of stars on the drz (``stars.ecsv``)."""
    from astropy.io import fits
    from astropy.stats import sigma_clipped_stats
    from astropy.table import Table
    from astropy.wcs import WCS
    from photutils.detection import DAOStarFinder

    from spike.datasets.hst import make_acs_hrc_dithers, run_astrodrizzle

    dithers = make_acs_hrc_dithers(directory / "flt", offsets=OFFSETS, seed=1)
    drz = run_astrodrizzle(dithers.asn, "hrc_sci", workdir=directory / "sci")
    with fits.open(drz) as hdul:
        image = np.nan_to_num(hdul["SCI"].data.astype(float))
        wcs = WCS(hdul["SCI"].header)
    _, median, std = sigma_clipped_stats(image, sigma=3.0)
    found = DAOStarFinder(fwhm=2.5, threshold=5 * std, exclude_border=True)(image - median)
    ny, nx = image.shape
    edge = 40
    keep = ((found["x_centroid"] > edge) & (found["x_centroid"] < nx - edge)
            & (found["y_centroid"] > edge) & (found["y_centroid"] < ny - edge))
    found = found[keep]
    found.sort("flux", reverse=True)
    ra, dec = wcs.pixel_to_world_values(found["x_centroid"], found["y_centroid"])
    stars = Table({"id": [f"s{i}" for i in range(len(found))], "ra": ra, "dec": dec})
    stars.write(directory / "stars.ecsv", overwrite=True)
    (directory / "setup.txt").write_text(f"{dithers.asn}\n{drz}\n{len(dithers.files)}\n")


def run_setup(directory):
    """`setup` in its own process: the timed runs are forked from a small parent, whose
    memory would otherwise count in their peak (fork copies it until ``exec``)."""
    from astropy.table import Table

    subprocess.run([sys.executable, __file__, "--setup-only", str(directory)], check=True,
                   stdout=subprocess.DEVNULL)
    asn, drz, n_exp = (directory / "setup.txt").read_text().split()
    return Path(asn), Path(drz), int(n_exp), Table.read(directory / "stars.ecsv")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="epsf")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 1000])
    parser.add_argument("--keep", type=Path, default=None,
                        help="work directory to keep (default: a temporary one, deleted)")
    parser.add_argument("--setup-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setup_only:
        setup(args.setup_only)
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="spike_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        asn, drz, n_exp, stars = run_setup(work)
        print(f"setup: {n_exp} exposures, science drizzle, {len(stars)} stars on the drz "
              f"({time.perf_counter() - t0:.1f} s, not timed)")
        print(f"machine: {os.cpu_count()} cores; method {args.method}")
        print(f"{'sources':>8} {'wall [s]':>9} {'peak [MB]':>10} {'per (src,exp) [ms]':>19}"
              f"  target")
        for n in args.counts:
            if n > len(stars):
                print(f"{n:>8}  skipped: only {len(stars)} stars")
                continue
            catalog = work / f"stars_{n}.ecsv"
            stars[:n].write(catalog, overwrite=True)
            outdir = work / f"out_{n}"
            outdir.mkdir(exist_ok=True)
            wall, peak = run_once([asn, f"--catalog={catalog}", f"--reference_mosaic={drz}",
                                   f"--method={args.method}"], outdir)
            target = TARGETS.get(n)
            verdict = ""
            if target:
                ok = wall <= target[0] and (target[1] is None or peak <= target[1])
                limit = f"<= {target[0]:g} s" + (f", <= {target[1]:g} MB" if target[1] else "")
                verdict = f"{limit}: {'met' if ok else 'MISSED'}"
            per = 1000.0 * wall / (n * n_exp)
            print(f"{n:>8} {wall:>9.2f} {peak:>10.0f} {per:>19.2f}  {verdict}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
