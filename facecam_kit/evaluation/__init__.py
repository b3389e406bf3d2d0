"""Scoring generated videos: image fidelity, identity and camera accuracy, as the paper's tables do.

Taught in notebook 09 (learning camera control at mini scale), which scores its models with it.
"""
