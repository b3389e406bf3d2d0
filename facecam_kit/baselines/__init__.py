"""The baselines' camera representations: ReCamMaster's extrinsics, FactorPortrait's Plücker rays
and ReCapture's anchor video (notebook 07)."""
