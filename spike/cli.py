"""The ``spike`` command: ``spike demo`` runs the whole job on simulated JWST and Roman data."""

import argparse
import logging
import sys
from pathlib import Path

__all__ = ["main", "run_demo", "run_roman_demo"]

log = logging.getLogger(__name__)

#: Dither offsets of each demo visit, in detector pixels (sub-pixel parts sample the PSF).
_DEMO_DITHERS = ((0.0, 0.0), (3.37, 1.71), (1.24, 4.58), (4.63, 6.29))
#: Approximate NIRCam short-wavelength pixel scale (arcsec) converting them to arcsec.
_NRC_SW_SCALE = 0.031


def run_demo(directory, *, n_exposures=4, method="optical"):
    """Simulate a small JWST NIRCam data set, drizzle it, and drizzle the PSF at its stars.

    Writes into ``directory``: the simulated ``_cal`` exposures and their association, the
    science mosaic (``*_i2d.fits``, made by jwst's own ``ResampleStep``), the drizzled PSF
    product (``*_psf.asdf``) and its quicklook PNG.

    Parameters
    ----------
    directory : str or Path
        Output directory (created if needed).
    n_exposures : int, optional
        Number of dithered exposures per visit (two visits, the second rotated).
    method : str, optional
        PSF method.

    Returns
    -------
    dict
        Paths of what was written, and the centroid/FWHM comparison of PSF and stars.
    """
    from jwst.resample import ResampleStep

    from spike.datamodels import open as spike_open
    from spike.datasets import simulate_jwst_cal_exposures, write_jwst_association
    from spike.steps import DrizzlePSFStep
    from spike.validation import compare_with_stars

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not 1 <= n_exposures <= len(_DEMO_DITHERS):
        msg = f"n_exposures must be between 1 and {len(_DEMO_DITHERS)}, got {n_exposures}"
        raise ValueError(msg)
    dithers = [(dx * _NRC_SW_SCALE, dy * _NRC_SW_SCALE) for dx, dy in _DEMO_DITHERS[:n_exposures]]
    sim = simulate_jwst_cal_exposures(dithers=dithers, seed=0)
    models, stars = sim.models, sim.stars
    asn = write_jwst_association(models, directory, product_name="spike_demo")
    print(f"simulated {len(models)} NIRCam exposures; association {asn}")

    science = ResampleStep().run(str(asn))
    mosaic = directory / "spike_demo_i2d.fits"
    science.save(mosaic)
    print(f"science mosaic (jwst ResampleStep): {mosaic}")

    step = DrizzlePSFStep(output_dir=str(directory), save_results=True, method=method,
                          ra=list(stars["ra"][:3]), dec=list(stars["dec"][:3]),
                          reference_mosaic=str(mosaic), save_plots=True)
    step.run(str(asn))
    product = directory / "spike_demo_psf.asdf"
    result = spike_open(product)
    report = compare_with_stars(result, science)
    _print_report(report)
    print(f"drizzled PSF: {product}\nquicklook:    {directory / 'spike_demo_psf.png'}")
    return {"asn": asn, "mosaic": mosaic, "psf": product, "report": report}


def run_roman_demo(directory, *, method=None):
    """Simulate small Roman WFI exposures, drizzle them with romancal, drizzle the PSF.

    Writes into ``directory``: the simulated ``_cal.asdf`` exposures (one SCA, two visits of
    four dithers, the second rolled by 20 deg) and their association, the science mosaic
    made by romancal's own ``ResampleStep`` (``*_coadd.asdf``), the drizzled PSF product
    (``*_psf.asdf``) and its quicklook PNG.

    Parameters
    ----------
    directory : str or Path
        Output directory (created if needed).
    method : str, optional
        PSF method (default: ``galsim``).

    Returns
    -------
    dict
        Paths of what was written, and the centroid/FWHM comparison of PSF and stars.
    """
    from romancal.resample import ResampleStep

    from spike.datamodels import open as spike_open
    from spike.datasets import simulate_roman_cal_exposures, write_roman_association
    from spike.steps import DrizzlePSFStep
    from spike.validation import compare_with_stars

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sim = simulate_roman_cal_exposures(seed=0)
    asn = write_roman_association(sim.models, directory, product_name="spike_roman_demo",
                                  target="None")
    print(f"simulated {len(sim.models)} Roman WFI exposures; association {asn}")
    science = ResampleStep(resample_on_skycell=False).run(str(asn))
    mosaic = directory / "spike_roman_demo_coadd.asdf"
    science.save(mosaic)
    print(f"science mosaic (romancal ResampleStep): {mosaic}")
    stars = sim.stars[:3]
    DrizzlePSFStep(output_dir=str(directory), save_results=True, method=method,
                   ra=list(stars["ra"]), dec=list(stars["dec"]),
                   reference_mosaic=str(mosaic), save_plots=True).run(str(asn))
    product = directory / "spike_roman_demo_psf.asdf"
    report = compare_with_stars(spike_open(product), science)
    _print_report(report)
    print(f"drizzled PSF: {product}\nquicklook:    {directory / 'spike_roman_demo_psf.png'}")
    return {"asn": asn, "mosaic": mosaic, "psf": product, "report": report}


def _print_report(report):
    for row in report:
        print(f"  source {row['id']}: centroid offset {row['offset']:.3f} px, "
              f"FWHM PSF/star {row['fwhm_ratio']:.3f}")


def main(argv=None):
    """Entry point of the ``spike`` command."""
    parser = argparse.ArgumentParser(prog="spike", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="drizzle the PSF of simulated JWST and Roman mosaics, "
                                       "offline")
    demo.add_argument("--output-dir", default="spike-demo",
                      help="where to write (default: %(default)s)")
    demo.add_argument("--mission", choices=("jwst", "roman", "all"), default="all",
                      help="which demo to run (default: %(default)s)")
    demo.add_argument("--method", default=None,
                      help="PSF method (default: optical for JWST, galsim for Roman)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        out = Path(args.output_dir)
        if args.mission in ("jwst", "all"):
            run_demo(str(out / "jwst") if args.mission == "all" else args.output_dir,
                     method=args.method or "optical")
        if args.mission in ("roman", "all"):
            run_roman_demo(out / "roman" if args.mission == "all" else out, method=args.method)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
