"""Training and evaluation of the mastering network: tonematch-train, tonematch-eval."""
import os as _os

# Must happen before torch loads OpenMP, so it lives here: every entry point (train, evaluate,
# benchmarks) imports this package first. Idle OpenMP workers then sleep instead of spinning
# against the chain's numba kernels (which run their own OpenMP pool): with both spinning on
# 2 cores a training step was 3x slower. An explicit setting in the environment wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
