"""Training and evaluation of the mastering network: tonematch-train, tonematch-eval."""

import tonematch.data  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
