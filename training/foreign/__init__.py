"""A second family of mastering processors, for EVALUATION ONLY (tonematch-eval --follow,
--chain foreign). Never imported by training or inference (tests/test_training_foreign.py checks
it), so the evaluation can measure mastering the network has never seen.

Written from scratch, in numpy / scipy / numba, deliberately unlike the project's chain
(models/chain: biquad EQ, feed-forward compressor, the 24-tap true-peak limiter):

  fir_eq.py      linear-phase FIR EQ designed by frequency sampling: tilt (dB/octave), smooth
                 shelves and a Gaussian bell on a log-frequency axis; M/S use for the side low-cut
  compressor.py  feedback RMS compressor (the detector hears the output) with program-dependent
                 release (a fast and a slow release in parallel: transients recover fast,
                 sustained compression slowly)
  clipper.py     soft clipper, 4x oversampled, adding only its band-limited distortion
  limiter.py     lookahead peak limiter: 4x polyphase detection, centred min filter, Hann-shaped
                 attack, release in the dB domain, checked on the shared true-peak meter
  width.py       M/S width: side gain and a linear-phase side low-cut (mono bass)
  master.py      ForeignSettings (engineer units), ForeignMaster.apply, random draws and
                 single-axis variants (tone, dynamics, width, loudness)

Only the measurements are shared with the project (tonematch.models.measure: loudness for the
final normalisation, true peak for the limiter's check); no processor is.
"""

from .master import AXES, ForeignMaster, ForeignSettings, draw, variants  # noqa: F401
