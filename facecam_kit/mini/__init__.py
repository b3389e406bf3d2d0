"""FaceCam-mini: small models the kit trains itself, to test the paper's central claim (notebook 09)."""
