"""The one implementation of every measurement: loudness, true peak, stereo, spectrum, dynamics.

Numpy/numba only (torch is imported lazily by the few differentiable helpers), so measuring a
file does not pay torch's import time. The chain, the training metrics, the descriptors and
`tonematch analyze` all measure through these modules.
"""
