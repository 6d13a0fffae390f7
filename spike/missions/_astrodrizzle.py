"""Offline AstroDrizzle runs: `run_astrodrizzle` (also re-exported by `spike.datasets.hst`).

Also the context managers that silence drizzlepac's known warnings and undo its changes to
the interpreter (root logger, streams, ``sys.excepthook``), the check of parameters against
its TEAL configuration and the resolution of input files to copy. drizzlepac is imported
only inside the functions that need it.
"""

import contextlib
import functools
import gc
import io
import logging
import shutil
import sys
import warnings
from pathlib import Path

from astropy.io import fits
from astropy.utils.exceptions import AstropyDeprecationWarning

from spike.exceptions import SpikeError

__all__ = ["run_astrodrizzle"]

log = logging.getLogger(__name__)

#: AstroDrizzle settings of a science run done offline (the user may override them).
_SCIENCE_PARS = {
    "updatewcs": False,  # no IDCTAB/NPOL/D2IM reference files offline
    "clean": False,  # keep <root>_sci?_final_mask.fits, needed to drizzle PSFs alike
    "build": True,
    "context": True,
    "preserve": False,
    "restore": False,
    "in_memory": False,
    "num_cores": 1,
    "static": True,
    "skysub": True,
    "driz_separate": True,
    "median": True,
    "blot": True,
    "driz_cr": True,
    "driz_combine": True,
}


@contextlib.contextmanager
def _quiet_drizzlepac():
    """Silence the known warnings that drizzlepac, stwcs and stsci.tools code emit.

    - ``PyparsingDeprecationWarning`` ('leaveWhitespace' deprecated): ``stregion``,
      imported by ``stwcs`` and ``drizzlepac``, uses pyparsing 2 names;
    - ``UserWarning`` 'IDCSCALE is missing, computing it from CD matrix.' (stwcs): headers
      without a distortion model, as expected offline with ``updatewcs=False``;
    - ``VerifyWarning`` 'Card is too long, comment will be truncated.': drizzlepac writes
      long header comments;
    - ``ResourceWarning`` 'unclosed file': drizzlepac, ``stsci.tools.check_files`` and
      ``wfpc2_to_flt`` leave files open;
    - ``VerifyWarning`` on the waivered WFPC2 table (TDISPn 'L' in an ASCII table);
    - ``AstropyDeprecationWarning`` 'chararray is deprecated': ``stsci.tools.asnutil`` reads
      association tables with chararray methods;
    - ``RuntimeWarning`` 'invalid value encountered in cast' from ``stsci.image.combine``
      (median step): its C code receives an uninitialised ``np.empty_like`` output array and
      warns now and then, depending on the memory's former content.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"'\w+' deprecated - use", category=DeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", message="IDCSCALE is missing, computing it from CD matrix",
            category=UserWarning,
        )
        warnings.filterwarnings(
            "ignore", message="Card is too long, comment will be truncated",
            category=fits.verify.VerifyWarning,
        )
        warnings.filterwarnings(
            "ignore", message=r".*Column disp option \(TDISPn\)", category=fits.verify.VerifyWarning
        )
        warnings.filterwarnings("ignore", message="unclosed file", category=ResourceWarning)
        warnings.filterwarnings(
            "ignore", message="chararray is deprecated", category=AstropyDeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", message="invalid value encountered in cast", category=RuntimeWarning,
            module=r"stsci\.image",
        )
        try:
            yield
        finally:
            gc.collect()  # the unclosed files warn when collected: do it here


class _OnlyWarnings(logging.Filter):
    """Drop INFO and lower records of drizzlepac and the libraries it drives."""

    _NAMES = ("drizzlepac", "stwcs", "stsci", "astropy.wcs")

    def filter(self, record):
        return record.levelno >= logging.WARNING or not record.name.startswith(self._NAMES)


@contextlib.contextmanager
def _contained_run(workdir):
    """Run drizzlepac code in ``workdir`` and undo what it does to the interpreter.

    drizzlepac's logging (``stsci.tools.logutil``) adds a file handler to the root logger,
    sets the root level, swaps ``sys.stdout``/``sys.stderr`` and deletes
    ``sys.excepthook``; all are put back here, and its log file is closed. What it prints
    and its INFO records go to its own ``astrodrizzle.log`` in ``workdir`` only (its
    warnings still reach the caller's log).
    """
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    streams = sys.stdout, sys.stderr, sys.excepthook
    quiet = _OnlyWarnings()
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        with contextlib.chdir(workdir), _quiet_drizzlepac(), \
                contextlib.redirect_stdout(io.StringIO()):
            try:
                yield
            finally:
                util = sys.modules.get("drizzlepac.util")
                handler = getattr(util, "_log_file_handler", None)
                if handler is not None:
                    handler.close()
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            handler.removeFilter(quiet)
        root.setLevel(level)
        sys.stdout, sys.stderr, sys.excepthook = streams


@functools.cache
def _astrodrizzle_parameters():
    """Names of the parameters ``AstroDrizzle`` accepts (from its TEAL configuration)."""
    with _quiet_drizzlepac():
        import drizzlepac.astrodrizzle  # noqa: F401 - registers the task with teal
        from stsci.tools import teal

        config = teal.load("astrodrizzle", defaults=True)

    def names(section):
        for key, value in section.items():
            if isinstance(value, dict):
                yield from names(value)
            elif not key.startswith("_"):
                yield key

    return frozenset(names(config)) | {"updatewcs"}


def _check_parameters(options, final_pars):
    known = _astrodrizzle_parameters()
    wrong = sorted(k for k in final_pars if not k.startswith("final_") or k not in known)
    if wrong:
        expected = sorted(k for k in known if k.startswith("final_"))
        msg = f"unknown final drizzle parameter(s) {wrong}; expected some of {expected}"
        raise TypeError(msg)
    wrong = sorted(k for k in options if k not in known or k in ("input", "output"))
    if wrong:
        msg = f"options holds unknown or reserved AstroDrizzle parameter(s) {wrong}"
        raise ValueError(msg)


def _asn_members(asn):
    """The ``_flt``/``_flc`` members of an HST association table (AstroDrizzle's inputs)."""
    from spike.missions._inputs import read_hst_association

    return read_hst_association(asn, suffixes=("flt", "flc"))[0]


def _resolve_inputs(files, workdir):
    """Return (files to copy into ``workdir``, AstroDrizzle input naming the copies)."""
    if isinstance(files, (str, Path)):
        text = str(files)
        if text.startswith("@"):
            # copy the members (and IVM maps, 2nd column) and rewrite the list with their
            # bare names; its own name must not contain "_asn", which drizzlepac reads as ASN
            list_file = Path(text[1:])
            rows = [line.split() for line in list_file.read_text().splitlines() if line.strip()]
            members = [list_file.parent / name for row in rows for name in row[:2]]
            new_list = workdir / "spike_input_files.lis"
            lines = (" ".join(Path(name).name for name in row[:2]) for row in rows)
            new_list.write_text("".join(f"{line}\n" for line in lines))
            return members, f"@{new_list.name}"
        path = Path(files)
        if path.name.endswith("_asn.fits"):
            return _asn_members(path) + [path], path.name
        files = [path]
    paths = [Path(f) for f in files]
    if not paths:
        msg = "files must name at least one exposure"
        raise ValueError(msg)
    return paths, [p.name for p in paths]


def run_astrodrizzle(files, output, *, workdir, options=None, **final_pars):
    """Drizzle HST exposures with ``drizzlepac.astrodrizzle.AstroDrizzle``, offline, on copies.

    The exposures (and association or list file) are copied into ``workdir`` and
    AstroDrizzle runs there, with ``workdir`` as current directory, as a science run would:
    static mask, sky subtraction, separate drizzling, median, blot, ``driz_cr`` and final
    drizzling, but ``updatewcs=False`` (no distortion reference files offline) and
    ``clean=False`` (the ``<root>_sci?_final_mask.fits`` masks stay in ``workdir``).
    The original files are never opened for writing.

    Parameters
    ----------
    files : str, `~pathlib.Path` or sequence of them
        Exposures (``_flt``/``_flc``), an HST association table (``*_asn.fits``, members
        found beside it) or ``"@<list file>"`` (one file name per line, beside the list).
    output : str
        Rootname of the product: AstroDrizzle writes ``<output>_drz.fits`` (``_drc`` for
        ``_flc`` inputs, ``_drw`` for WFPC2, as drizzlepac names them).
    workdir : str or `~pathlib.Path`
        Working directory (created if needed); must not hold the input files themselves.
        Earlier copies and products of the same name there are replaced.
    options : dict, optional
        Other AstroDrizzle parameters overriding the science-run settings (e.g.
        ``{"driz_cr": False}`` or ``{"num_cores": 2}``).
    **final_pars
        Parameters of the final drizzling (``final_pixfrac``, ``final_kernel``,
        ``final_scale``, ``final_rot``, ``final_refimage``, ``final_wht_type``,
        ``final_bits``...). A custom-WCS parameter (``final_refimage``, ``final_scale``,
        ``final_rot``, ``final_outnx``...) turns ``final_wcs`` on, as AstroDrizzle does.

    Returns
    -------
    `~pathlib.Path`
        The product ``<workdir>/<output>_drz.fits`` (``_drc``/``_drw``), with extensions
        SCI, WHT and CTX.

    Raises
    ------
    TypeError
        For a keyword argument that is not a ``final_*`` parameter of AstroDrizzle.
    ValueError
        For an unknown parameter in ``options`` (or ``input``/``output`` there), if
        ``workdir`` holds an input file or ``files`` is empty.
    SpikeError
        If AstroDrizzle finishes without writing the product.
    """
    options = dict(options or {})
    _check_parameters(options, final_pars)
    output = str(output).removesuffix(".fits")
    for suffix in ("_drz", "_drc", "_drw"):
        output = output.removesuffix(suffix)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sources, drizzle_input = _resolve_inputs(files, workdir)
    for source in sources:
        if not source.is_file():
            msg = f"input file {source} does not exist"
            raise FileNotFoundError(msg)
        target = workdir / source.name
        if target.exists() and target.samefile(source):
            msg = f"workdir {workdir} holds the input {source.name}; AstroDrizzle would edit it"
            raise ValueError(msg)
        shutil.copyfile(source, target)
    products = [workdir / f"{output}_{suffix}.fits" for suffix in ("drz", "drc", "drw")]
    for stale in products:
        stale.unlink(missing_ok=True)
    pars = _SCIENCE_PARS | options | final_pars
    log.debug("AstroDrizzle(%r, output=%r) in %s with %s", drizzle_input, output, workdir, pars)
    with _contained_run(workdir):
        from drizzlepac import astrodrizzle

        astrodrizzle.AstroDrizzle(input=drizzle_input, output=output, **pars)
    products = [p for p in products if p.is_file()]
    if not products:
        msg = f"AstroDrizzle wrote no {output}_drz.fits in {workdir}; see its astrodrizzle.log"
        raise SpikeError(msg)
    product = products[0]
    log.info("AstroDrizzle wrote %s", product)
    return product
