"""Checks on an output path before any work starts, so a long job never fails at its end and the
source is never touched."""

from __future__ import annotations

import os

from .errors import TonematchError
from .formats import output_format


def check_output_folder(path) -> None:
    """The folder that will hold `path` must exist and be writable; `path` must not be a folder."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise TonematchError(f"cannot write '{path}': it is a folder")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(folder) and not os.path.isdir(folder):  # out.wav/x.wav: "does not exist" would mislead
        raise TonematchError(f"cannot write '{path}': '{folder}' is a file, not a folder")
    if not os.path.isdir(folder):
        raise TonematchError(f"cannot write '{path}': folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TonematchError(f"cannot write '{path}': folder '{folder}' is not writable")


def check_paths(input_path, output_path) -> None:
    """Refuse an output that is the input (any link or spelling of it) or cannot be written.

    Run before any processing, so a long job never fails at the end and the source is never touched.
    """
    inp, out = os.fspath(input_path), os.fspath(output_path)
    if os.path.exists(out) and os.path.exists(inp):
        same = os.path.samefile(inp, out)  # also catches hard links and symlinks
    else:
        same = os.path.normcase(os.path.realpath(inp)) == os.path.normcase(os.path.realpath(out))
    if same:
        raise TonematchError(f"output '{out}' is the input file; choose another output path")
    output_format(out)
    check_output_folder(out)
