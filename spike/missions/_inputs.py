"""Turn the many accepted input forms into a list of exposures (files or models)."""

import glob
import json
import logging
from pathlib import Path

__all__ = ["expand_input", "product_name_from", "read_association", "read_hst_association",
           "read_list_file", "short_error", "open_datamodel", "check_complete_fits"]

#: Longest error text quoted from a dependency in spike's messages.
_MAX_QUOTED = 400

log = logging.getLogger(__name__)


def read_association(path):
    """Read an association JSON file and check that its members exist.

    Parameters
    ----------
    path : str or Path
        The association file.

    Returns
    -------
    members : list of Path
        Science members (``exptype`` "science") of the first product, resolved relative
        to the association's directory.
    asn : dict
        The association.

    Raises
    ------
    FileNotFoundError
        The association or one of its members does not exist.
    ValueError
        The file is not a readable association.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Association file {path} does not exist"
        raise FileNotFoundError(msg)
    try:
        asn = json.loads(path.read_text())
        products = asn["products"]
        members = products[0]["members"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        msg = f"{path} is not a valid association (no products/members): {exc}"
        raise ValueError(msg) from exc
    files = []
    for member in members:
        if str(member.get("exptype", "science")).lower() != "science":
            continue
        name = Path(member["expname"])
        full = name if name.is_absolute() else path.parent / name
        if not full.is_file():
            msg = f"Association {path} lists {name}, which does not exist (looked for {full})"
            raise FileNotFoundError(msg)
        files.append(full)
    if not files:
        msg = f"Association {path} has no science members"
        raise ValueError(msg)
    return files, asn


def read_hst_association(path, *, suffixes=("flt", "flc", "c0m", "c0f")):
    """Read an HST association table (``*_asn.fits``): its present ``EXP-*`` members.

    Members are ``<memname>_<suffix>.fits`` beside the table, the first of ``suffixes``
    that exists (by default ``_flt``, else ``_flc``, ``_c0m``, ``_c0f``).

    Returns
    -------
    members : list of Path
    asn : dict
        ``{"products": [{"name": <PROD-* member>, "members": [...]}]}`` (the JSON form).
    """
    from astropy.io import fits

    path = Path(path)
    try:
        with fits.open(path) as hdul:
            table = hdul[1].data
            names = [str(v).strip().lower() for v in table["MEMNAME"]]
            types = [str(v).strip().upper() for v in table["MEMTYPE"]]
            present = [bool(v) for v in table["MEMPRSNT"]]
    except (OSError, KeyError, IndexError, TypeError) as exc:
        msg = f"{path} is not an HST association table (MEMNAME/MEMTYPE/MEMPRSNT): {exc}"
        raise ValueError(msg) from exc
    members, product = [], path.name.lower().removesuffix("_asn.fits")
    for name, kind, here in zip(names, types, present, strict=True):
        if kind.startswith("PROD"):
            product = name
        if not (kind.startswith("EXP") and here):
            continue
        candidates = [path.parent / f"{name}_{s}.fits" for s in suffixes]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            kinds = "/".join(f"_{s}" for s in suffixes).lstrip("_")
            msg = (f"Association {path} lists {name}, but no {name}_{kinds}.fits "
                   f"is in {path.parent}")
            raise FileNotFoundError(msg)
        members.append(found)
    if not members:
        msg = f"Association {path} has no present exposure members"
        raise ValueError(msg)
    asn = {"products": [{"name": product,
                         "members": [{"expname": str(m), "exptype": "science"} for m in members]}]}
    return members, asn


def read_list_file(path):
    """Files named in a text list (one per line; relative names are beside the list)."""
    path = Path(path)
    if not path.is_file():
        msg = f"List file {path} does not exist"
        raise FileNotFoundError(msg)
    files = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name = Path(line.split()[0])
        full = name if name.is_absolute() else path.parent / name
        if not full.is_file():
            msg = f"List {path} names {name}, which does not exist (looked for {full})"
            raise FileNotFoundError(msg)
        files.append(full)
    if not files:
        msg = f"List file {path} names no file"
        raise ValueError(msg)
    return files


def _drop_dq_companions(paths):
    """Drop WFPC2 ``_c1m``/``_c1f`` files whose science file is also matched."""
    names = {p.name.lower() for p in paths}
    out = []
    for p in paths:
        lower = p.name.lower()
        partner = lower.replace("_c1m.", "_c0m.").replace("_c1f.", "_c0f.")
        if partner != lower and partner in names:
            continue
        out.append(p)
    return out


def expand_input(input_data, *, library_type=None):
    """Return ``(items, asn)``: the exposures (paths or models) and the association, if any.

    Parameters
    ----------
    input_data : str, Path, dict, list, model or model library
        Association file (``.json``, or an HST ``*_asn.fits`` table), single exposure
        file, glob pattern, ``@list`` file, list of files / models, an association dict,
        or a model library (``library_type``).
    library_type : type, optional
        The mission's model-library class, whose instances are unpacked.

    Returns
    -------
    items : list
        Paths (`Path`) or already open models, in input order.
    asn : dict or None
        The association, when the input was one.
    """
    if library_type is not None and isinstance(input_data, library_type):
        models = []
        with input_data:
            for i in range(len(input_data)):
                model = input_data.borrow(i)
                models.append(model)
                input_data.shelve(model, i, modify=False)
        return models, getattr(input_data, "asn", None)
    if isinstance(input_data, dict):
        try:
            members = input_data["products"][0]["members"]
        except (KeyError, IndexError, TypeError) as exc:
            msg = "The association dict has no products/members"
            raise ValueError(msg) from exc
        paths = [Path(m["expname"]) for m in members
                 if str(m.get("exptype", "science")).lower() == "science"]
        for p in paths:
            if not p.is_file():
                msg = f"Association member {p} does not exist"
                raise FileNotFoundError(msg)
        return paths, input_data
    if isinstance(input_data, (str, Path)):
        text = str(input_data)
        if text.startswith("@"):
            return read_list_file(text[1:]), None
        path = Path(input_data)
        if path.suffix.lower() == ".json":
            return read_association(path)
        if not path.exists() and glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text))
            if not matches:
                msg = f"No file matches the pattern {text!r}"
                raise FileNotFoundError(msg)
            return _drop_dq_companions(matches), None
        if not path.is_file():
            msg = f"Input file {path} does not exist"
            raise FileNotFoundError(msg)
        if path.name.lower().endswith("_asn.fits"):
            return read_hst_association(path)
        return [path], None
    if isinstance(input_data, (list, tuple)):
        if not input_data:
            msg = "The input list is empty"
            raise ValueError(msg)
        items = []
        for item in input_data:
            if isinstance(item, (str, Path)):
                p = Path(item)
                if not p.is_file():
                    msg = f"Input file {p} does not exist"
                    raise FileNotFoundError(msg)
                items.append(p)
            else:
                items.append(item)
        return items, None
    return [input_data], None


def product_name_from(asn, models):
    """Return the product name of an association, or one derived from the first exposure.

    ``jw01234001001_01101_00001_nrca1_cal.fits`` gives ``jw01234001001_01101_00001_nrca1``.
    """
    if asn:
        try:
            name = asn["products"][0]["name"]
        except (KeyError, IndexError, TypeError):
            name = None
        if name:
            return str(name)
    filename = getattr(models[0].meta, "filename", None) or "spike"
    stem = Path(str(filename)).name.split(".")[0]
    parts = stem.rsplit("_", 1)
    return parts[0] if len(parts) == 2 else stem


def short_error(exc):
    """One line describing ``exc``: a schema violation as ``field: problem``, else its text.

    Schema validation errors (jsonschema's, from asdf and the datamodel libraries) print
    the whole schema (tens of kB); only the failing field and the reason are kept. Other
    messages are cut to their first line and a few hundred characters.

    Examples
    --------
    >>> short_error(ValueError("Decompressed data wrong size"))
    'ValueError: Decompressed data wrong size'
    """
    path = getattr(exc, "absolute_path", None)
    message = getattr(exc, "message", None)
    if path is not None and isinstance(message, str) and hasattr(exc, "validator"):
        field = ".".join(str(p) for p in path if str(p) != "roman")
        text = f"{field}: {message}" if field else message
    else:
        lines = str(exc).strip().splitlines()
        text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "..."


def open_datamodel(path, opener, what):
    """Open ``path`` with ``opener``; on failure raise ValueError naming the file.

    Parameters
    ----------
    path : str or Path
        The file.
    opener : callable
        ``opener(path) -> model`` (e.g. ``stdatamodels.jwst.datamodels.open``).
    what : str
        What the file should be, for the message (``"a JWST datamodel"``).

    Raises
    ------
    ValueError
        ``"Cannot open <path> as <what>: <short reason>"`` (see `short_error`).
    """
    import warnings

    from asdf.exceptions import AsdfWarning

    try:
        with warnings.catch_warnings():
            # asdf announces a default change before re-raising a validation error
            warnings.filterwarnings("ignore", message="In the future validation on read",
                                    category=AsdfWarning)
            return opener(path)
    except Exception as exc:  # the datamodel libraries raise many types for bad files
        msg = f"Cannot open {path} as {what}: {short_error(exc)}"
        raise ValueError(msg) from exc


def check_complete_fits(path):
    """Raise ValueError naming ``path`` when it is not a readable, complete FITS file.

    Every header is read (not the data); astropy's "File may have been truncated" warning
    becomes an error here, before a datamodel library meets the missing bytes (and, with
    warnings turned into errors, leaves the file open).
    """
    import warnings

    from astropy.io import fits

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(path, memmap=False, lazy_load_hdus=False):
                pass
        except (OSError, ValueError, IndexError) as exc:
            msg = f"Cannot open {path} as FITS: {short_error(exc)}"
            raise ValueError(msg) from exc
    for warning in caught:
        if "truncated" in str(warning.message):
            msg = (f"{path} is truncated ({warning.message}); the file is incomplete: copy or "
                   "download it again")
            raise ValueError(msg)
