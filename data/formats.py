"""The audio files tonematch writes: lossless WAV or FLAC, 16- or 24-bit PCM or 32-bit float.

Default sample format: 24-bit PCM for both WAV and FLAC (FLAC cannot hold float, and one default
for both keeps outputs interchangeable).
"""

from __future__ import annotations

import os

from .errors import TonematchError

DEFAULT_SUBTYPE = "PCM_24"
# Bits of the integer formats; None: stored as 32-bit float, never clipped or dithered.
SUBTYPE_BITS = {"PCM_16": 16, "PCM_24": 24, "FLOAT": None}
_SUBTYPE_ALIASES = {
    "16": "PCM_16",
    "pcm_16": "PCM_16",
    "pcm16": "PCM_16",
    "int16": "PCM_16",
    "s16": "PCM_16",
    "24": "PCM_24",
    "pcm_24": "PCM_24",
    "pcm24": "PCM_24",
    "int24": "PCM_24",
    "s24": "PCM_24",
    "float": "FLOAT",
    "float32": "FLOAT",
    "f32": "FLOAT",
    "32f": "FLOAT",
}
FORMATS = {".wav": "WAV", ".flac": "FLAC"}


def parse_subtype(value) -> str | None:
    """'16'/'24'/'float' (or soundfile's names, any case) -> 'PCM_16'/'PCM_24'/'FLOAT'; None stays None."""
    if value is None:
        return None
    key = str(value).strip().lower()
    if key in _SUBTYPE_ALIASES:
        return _SUBTYPE_ALIASES[key]
    raise TonematchError(f"unknown sample format {value!r}: use 16, 24 or float")


def check_subtype(path, subtype, name=None) -> None:
    """Refuse a sample format that `path`'s file format cannot hold (`name`: how to name the file)."""
    if output_format(path) == "FLAC" and parse_subtype(subtype) == "FLOAT":
        raise TonematchError(f"cannot write '{name or os.fspath(path)}': FLAC cannot store float samples, use 16 or 24")


def output_format(path) -> str:
    """soundfile format name from the extension; only lossless formats we can write atomically."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise TonematchError(
            f"cannot write '{os.fspath(path)}': unsupported extension {ext or '(none)'!r}, use .wav or .flac"
        )
    return FORMATS[ext]
