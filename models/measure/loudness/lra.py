"""Loudness range (EBU Tech 3342) from short-term loudness values.

Short-term 3 s blocks on pyloudnorm's grid (hop 3 s x (1 - 0.97) = 90 ms, with 1.5 s of silence
appended after the programme), absolute gate -70 LUFS, relative gate -20 LU below the power mean,
LRA = 95th - 10th percentile (numpy's linear interpolation).
"""

from __future__ import annotations

import numpy as np

from .gating import ABS_GATE_LUFS

LRA_REL_GATE_LU = -20.0
LRA_PERCENTILES = (10.0, 95.0)
SHORT_TERM_S, SHORT_TERM_OVERLAP = 3.0, 0.97  # pyloudnorm's LRA grid (90 ms hop)
LRA_TAIL_SILENCE_S = 1.5


def loudness_range(short_term_lufs: np.ndarray, relative_lu: float | None = LRA_REL_GATE_LU) -> float | None:
    """EBU Tech 3342 loudness range (LU) from short-term loudness values; None if undefined.
    `relative_lu=None`: the same percentile range over every block past the absolute gate."""
    st = np.asarray(short_term_lufs, dtype=np.float64)
    st = st[st >= ABS_GATE_LUFS]
    if st.size and relative_lu is not None:
        integrated = 10.0 * np.log10(np.mean(10.0 ** (st / 10.0)))
        st = st[st >= integrated + relative_lu]
    if st.size == 0:
        return None
    lo, hi = np.percentile(st, LRA_PERCENTILES)
    return float(hi - lo)
