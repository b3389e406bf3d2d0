"""Facial landmarks (MediaPipe), the face-mesh topology, the generic head and the landmark camera
condition (notebooks 02-03)."""
