"""Roman WFI: spike's steps on simulated level-2 exposures, against romancal's resample."""
