"""The Gaussian proxy head: PLY I/O, rasterisation, the head itself and its calibration to the
detector (notebook 05)."""
