"""A handful of the corpus through ``strun`` (a subprocess each, about 3-4 s): the exit status
is non-zero, stderr names the parameter or file, and nothing is written."""

import json

import pytest

from tests.reliability.conftest import strun


def _ra_dec(star):
    return [f"--ra={star['ra'][0]}", f"--dec={star['dec'][0]}"]


def _outputs(tmp_path):
    out = tmp_path / "out"
    return sorted(p.name for p in out.rglob("*")) if out.exists() else []


@pytest.mark.parametrize(("args", "message"), [
    (["--pixmap_stepsize=-1"], "pixmap_stepsize=-1.0 must be a positive number of pixels"),
    (["--good_bits=BANANA"], "good_bits='BANANA' is not a JWST DQ flag combination"),
    (["--output_size=99999"], "output_size=99999"),
], ids=["pixmap_stepsize", "good_bits", "output_size"])
def test_strun_bad_parameter(jwst_asn, jwst_star, tmp_path, args, message):
    proc = strun(["drizzle_psf", str(jwst_asn), *_ra_dec(jwst_star), "--stamp_size=11",
                  f"--output_dir={tmp_path / 'out'}", "--save_plots=True", *args], tmp_path)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert _outputs(tmp_path) == []


def test_strun_zero_byte_asdf(roman_asn, roman_star, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    asn = json.loads(roman_asn.read_text())
    member = asn["products"][0]["members"][0]["expname"]
    (data / member).write_bytes(b"")
    asn["products"][0]["members"] = asn["products"][0]["members"][:1]
    (data / "one_asn.json").write_text(json.dumps(asn))
    proc = strun(["drizzle_psf", str(data / "one_asn.json"), *_ra_dec(roman_star),
                  f"--output_dir={tmp_path / 'out'}"], tmp_path)
    assert proc.returncode != 0
    assert f"{member} cannot be read as an ASDF file" in proc.stderr
    assert _outputs(tmp_path) == []


def test_strun_drz_as_exposure(hrc, hst_star, tmp_path):
    proc = strun(["drizzle_psf", str(hrc.drz), *_ra_dec(hst_star),
                  f"--output_dir={tmp_path / 'out'}"], tmp_path)
    assert proc.returncode != 0
    assert f"{hrc.drz.name} is a drizzled product" in proc.stderr
    assert _outputs(tmp_path) == []
