"""tonematch: learned, explainable audio mastering.

    import tonematch
    result = tonematch.match("mix.wav", "reference.wav")        # or arrays + sample_rate=
    result.settings.to_json("mix_mastered.json")                  # readable, editable settings
    tonematch.render("mix.wav", result.settings, "mix_mastered.wav")
    tonematch.analyze("mix_mastered.wav")                         # loudness, true peak, width, ...

Everything is imported on first use, so `import tonematch` is instant and never pulls in the
training stack (Lightning, Hydra, auraloss).
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("tonematch")
except _metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "Settings", "MasterResult", "TonematchError", "analyze", "master", "match", "render"]


def __getattr__(name: str):
    if name == "TonematchError":  # every refusal of the API (a bad file, array, rate or option)
        from tonematch.data.errors import TonematchError

        return TonematchError
    if name == "Settings":
        from tonematch.models.chain.settings import Settings

        return Settings
    if name in ("MasterResult", "analyze", "master", "match", "render"):
        from tonematch.inference import api

        return getattr(api, name)
    raise AttributeError(f"module 'tonematch' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The lazily loaded names too, so that dir(tonematch) and completion show the API."""
    return sorted(set(globals()) | set(__all__))
