"""Training FaceCam (and ReCamMaster) on accelerate: the recipe, presets, latent cache and the loop."""
