"""PSF back-ends ("methods"): models of the PSF of one exposure at any detector position.

Every method implements `~spike.psf.base.PSFMethod` and is found by name through
`~spike.psf.registry` (entry-point group ``spike.psf_methods``). Built in:

* ``optical`` (`OpticalPSFMethod`): diffraction-limited polychromatic JWST and HST PSFs
  computed in-process from the telescope pupil; needs no downloaded data (an approximation:
  no wavefront errors, top-hat bands, no detector effects).
* ``galsim`` (`~spike.psf.galsim_method.GalSimPSFMethod`): GalSim's Roman WFI model.
* ``stpsf`` (`STPSFMethod`): full STPSF models (JWST, Roman WFI); needs STPSF's data files.
* ``user`` (`UserPSFMethod`): PSFs supplied as a callable, photutils models or FITS files.
* ``tinytim``: TinyTim (external programs) for HST.
* ``stdpsf``: STScI's empirical STDPSF libraries (files given by the user).
* ``psfex``: Source Extractor + PSFEx run on the exposure itself (Debian programs).
* ``epsf``: a photutils effective PSF built from the exposure's own stars.

Importing this package does not import poppy, stpsf or photutils.
"""

from spike.psf import base, registry
from spike.psf.base import DetectorInfo, PSFMethod, PSFModel
from spike.psf.optical import OpticalPSFMethod
from spike.psf.registry import available_methods, get_method, register_method
from spike.psf.stpsf_method import STPSFMethod
from spike.psf.user import UserPSFMethod

__all__ = [
    "DetectorInfo",
    "OpticalPSFMethod",
    "PSFMethod",
    "PSFModel",
    "STPSFMethod",
    "UserPSFMethod",
    "available_methods",
    "base",
    "get_method",
    "register_method",
    "registry",
]
