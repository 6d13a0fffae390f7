"""Turn the many accepted input forms into a list of exposures (files or models)."""

import json
import logging
from pathlib import Path

__all__ = ["expand_input", "product_name_from", "read_association"]

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


def expand_input(input_data, *, library_type=None):
    """Return ``(items, asn)``: the exposures (paths or models) and the association, if any.

    Parameters
    ----------
    input_data : str, Path, dict, list, model or model library
        Association file (``.json``), single exposure file, list of files / models,
        an association dict, or a model library (``library_type``).
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
        path = Path(input_data)
        if path.suffix.lower() == ".json":
            return read_association(path)
        if not path.is_file():
            msg = f"Input file {path} does not exist"
            raise FileNotFoundError(msg)
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
