"""The mastering chain (chain/), the network (encoder, descriptors, controller, model) and its
weights. Importing tonematch.data first applies its process-wide OpenMP setting."""

import tonematch.data  # noqa: F401
