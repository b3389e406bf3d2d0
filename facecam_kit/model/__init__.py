"""FaceCam on diffusers: the pipeline, local weights and the DiT's compute cost (notebook 06)."""
