"""Cameras, trajectories and poses from landmarks (notebooks 01-03). numpy, OpenCV and SciPy only."""
