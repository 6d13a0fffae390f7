"""Parameter specs shared by spike's steps (no algorithms here)."""

__all__ = ["GENERATE_SPEC", "RESAMPLE_SPEC"]

#: Parameters of PSF generation, shared by GeneratePSFStep and DrizzlePSFStep.
GENERATE_SPEC = """
    method = string(default=None)  # PSF method: optical, galsim, stpsf, epsf, psfex, stdpsf, tinytim, user, ... (default: the most faithful available; see docs/psf_methods.md)
    ra = force_list(default=None)  # Right ascension(s) of the sources (deg, ICRS); comma-separated for several
    dec = force_list(default=None)  # Declination(s) of the sources (deg, ICRS); comma-separated for several
    catalog = string(default=None)  # ECSV/CSV catalog with ra, dec (deg) and optional id columns
    stamp_size = integer(min=3, default=41)  # PSF stamp size in detector pixels (odd)
    oversampling = integer(min=1, max=16, default=4)  # Oversampling factor of the model PSFs
    method_options = force_list(default=None)  # Options of the PSF method as 'key=value,key=value' (e.g. 'min_stars=5,box_size=21'; see docs/psf_methods.md)
    psf_path = string(default=None)  # method=user: directory (or file) of per-exposure PSF FITS files; method=stdpsf: STDPSF file or directory
    product_name = string(default=None)  # Output product name (default: the association's)
"""

#: jwst ResampleStep's output-grid and drizzle parameters, with the same names and meanings.
RESAMPLE_SPEC = """
    reference_mosaic = string(default=None)  # Science mosaic (JWST _i2d, Roman _coadd, HST _drz/_drc) whose grid and resample parameters are reused
    pixfrac = float(min=0.0, max=1.0, default=1.0)  # Pixel shrinkage factor
    kernel = option('square','gaussian','point','turbo','lanczos2','lanczos3',default='square')  # Flux distribution kernel
    fillval = string(default='NAN')  # Output value for pixels with no weight or flux
    weight_type = option('ivm', 'exptime', 'ivm-sky', None, default='ivm')  # JWST/Roman input image weighting type ('ivm-sky': Roman only)
    final_wht_type = option('EXP', 'ERR', default='EXP')  # HST: AstroDrizzle's final_wht_type (without science final masks)
    output_shape = int_list(min=2, max=2, default=None)  # [x, y] order
    crpix = float_list(min=2, max=2, default=None)  # 0-based image coordinates of the reference pixel
    crval = float_list(min=2, max=2, default=None)  # world coordinates of the reference pixel
    rotation = float(default=None)  # Output image Y-axis PA relative to North
    pixel_scale_ratio = float(default=1.0)  # Ratio of output to input pixel scale
    pixel_scale = float(default=None)  # Absolute pixel scale in arcsec
    output_wcs = string(default='')  # Custom output WCS (JWST/Roman: ASDF file; HST: FITS image, as final_refimage); overrides the other WCS parameters
    good_bits = string(default=None)  # DQ flags treated as good (default: the mission's: JWST '~DO_NOT_USE+NON_SCIENCE', Roman '~DO_NOT_USE', HST final_bits 0)
    pixmap_stepsize = float(default=None)  # Interpolation step size for pixel map (default: the mission's, JWST 1, Roman 10, HST 10)
    pixmap_order = integer(default=None)  # Spline order for pixel mapping, 1 or 3 (default: the mission's, JWST 1, Roman 3)
    engine = option('drizzle', 'astrodrizzle', default='drizzle')  # HST: drizzle stamps (drizzle package) or run AstroDrizzle on full-frame PSF copies
    mask_dir = string(default=None)  # HST: directory of the science run's *_final_mask.fits (default: beside reference_mosaic)
    output_size = integer(min=3, default=None)  # Drizzled cutout size in output pixels (odd; default covers stamp_size)
    scheduler = string(default=None)  # Parallel run over sources: 'processes[:N]' (local processes), 'dask[:N]' (local Dask cluster) or a Dask scheduler address 'tcp://host:port'
    save_exposure_psfs = boolean(default=False)  # Also save the per-exposure PSF models (_psfexp)
    save_plots = boolean(default=False)  # Save a PNG quicklook per product
"""
