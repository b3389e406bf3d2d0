"""Data the model consumes: training-data strategies, the synthetic studio, training datasets, the
inference input video and the bundled samples (notebooks 04 and 06)."""
