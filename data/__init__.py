"""Data for tonematch: audio I/O (audio, writer, resample), the decode cache, track splits,
degradations and the two training datasets (selfsup: mastered music alone; pairs: real
mix/master pairs, aligned by align). Submodules are imported explicitly: `import tonematch.data`
stays cheap (no torch) for the command-line tools.
"""

import os as _os

# Before torch loads OpenMP: idle OpenMP workers sleep instead of spinning against the chain's
# numba kernels (their own OpenMP pool). With both spinning on 2 cores, training steps and
# renders ran about 3x slower. Every tonematch package imports this one first (models and
# training import it explicitly); an explicit setting in the environment wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
