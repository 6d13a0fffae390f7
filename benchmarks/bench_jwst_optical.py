"""Benchmark: drizzled PSFs of simulated NIRCam exposures with jwst's own resample code.

Setup (not timed): eight simulated NIRCam F200W ``_cal`` exposures (two visits of four
dithers, `spike.datasets.simulate_jwst_cal_exposures`) and their association. Timed:
``strun drizzle_psf <asn> --catalog=<N positions> --method=optical`` in a fresh process for
N = 1, 10 and 100 positions spread over the field (wall time including start-up; peak
resident memory). JWST stamps go through jwst's ``ResampleImage``, one small datamodel per
stamp, so the cost per (source, exposure) is higher than for HST's stamp engine.

Usage::

    python benchmarks/bench_jwst_optical.py [--counts 1 10 100] [--method optical] [--keep DIR]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _runner import run_once  # noqa: E402


def setup(directory):
    """Exposures, association and a catalog of random positions on all of them."""
    import numpy as np
    from astropy.table import Table

    from spike.datasets import simulate_jwst_cal_exposures, write_jwst_association

    sim = simulate_jwst_cal_exposures(seed=0)
    asn = write_jwst_association(sim.models, directory, product_name="bench_f200w")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(70, 190, 1000), rng.uniform(70, 190, 1000)
    ra, dec = sim.models[0].meta.wcs(x, y)
    Table({"id": [f"p{i}" for i in range(x.size)], "ra": ra, "dec": dec}).write(
        directory / "positions.ecsv", overwrite=True)
    (directory / "setup.txt").write_text(f"{asn}\n{len(sim.models)}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="optical")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--setup-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setup_only:
        setup(args.setup_only)
        return
    from astropy.table import Table

    work = args.keep or Path(tempfile.mkdtemp(prefix="spike_bench_jwst_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--setup-only", str(work)], check=True,
                       stdout=subprocess.DEVNULL)
        asn, n_exp = (work / "setup.txt").read_text().split()
        n_exp = int(n_exp)
        positions = Table.read(work / "positions.ecsv")
        print(f"setup: {n_exp} NIRCam exposures ({time.perf_counter() - t0:.1f} s, not timed)")
        print(f"machine: {os.cpu_count()} cores; method {args.method}")
        print(f"{'sources':>8} {'wall [s]':>9} {'peak [MB]':>10} {'per (src,exp) [ms]':>19}")
        for n in args.counts:
            catalog = work / f"positions_{n}.ecsv"
            positions[:n].write(catalog, overwrite=True)
            outdir = work / f"out_{n}"
            outdir.mkdir(exist_ok=True)
            wall, peak = run_once([asn, f"--catalog={catalog}", f"--method={args.method}"],
                                  outdir)
            print(f"{n:>8} {wall:>9.2f} {peak:>10.0f} {1000.0 * wall / (n * n_exp):>19.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
