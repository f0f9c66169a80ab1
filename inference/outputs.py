"""The files a run will write, checked as a whole before any audio is read.

Every command that writes (render, match, master, style fit, style from-references) lists its
inputs (mix, reference, style, pairs, model, settings) and every file it will write (each master,
the settings JSON and report beside it, a style), then `OutputPlan.check()` refuses, in one line:

* an output that is one of the run's inputs: compared by device and inode where both exist (so
  symlinks, hard links, `..` and a case-insensitive disk's other spelling are all the same file)
  and by resolved path otherwise;
* two outputs that land on one file (a batch with `song.wav` and `song.ogg`, or names that differ
  only in case, which are one file on macOS and Windows disks), naming both inputs;
* a batch whose output folder is one of its input folders or inside one (the masters would be
  taken for mixes by the next run over that folder);
* a folder that is missing (for a single output) or not writable, an output that is a folder;
* an output that exists, unless `overwrite` (--overwrite / -f); a read-only one even then.

Nothing is written for a refused plan. The writers then put each file in place atomically
(data/atomic.py), and without `overwrite` never over a file that appeared since the check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tonematch.data.errors import TonematchError


def identity(path) -> tuple[int, int] | None:
    """(device, inode) of the file `path` leads to (through symlinks), None if there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def resolved(path) -> str:
    """The absolute path with symlinks and `..` resolved, case-normalised where the OS says so."""
    return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path))))


def same_file(a, b) -> bool:
    ia, ib = identity(a), identity(b)
    if ia is not None and ib is not None:
        return ia == ib
    return resolved(a) == resolved(b)


def writable(path) -> bool:
    """Writable for this user, and not marked read-only for everyone: a file or folder without
    any write bit is left alone even by root, who could write it regardless."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return os.access(path, os.W_OK) and bool(mode & 0o222)


def _inside(child: str, folder: str) -> bool:
    return child == folder or child.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Output:
    path: str
    what: str  # "master", "settings", "report", "style"
    source: str | None = None  # the input it is made from (named when two collide)

    def described(self) -> str:
        if self.what == "settings":
            return f"the settings file '{self.path}'"
        if self.what == "report":
            return f"the report '{self.path}'"
        return f"'{self.path}'"


class OutputPlan:
    """Inputs and outputs of one run; `check()` raises TonematchError for the first problem."""

    def __init__(self, overwrite: bool = False, keep_extension_hint: bool = False):
        self.overwrite = bool(overwrite)
        self.keep_extension_hint = keep_extension_hint  # the command has --keep-extension to offer
        self.inputs: list[tuple[str, str]] = []  # (role, path)
        self.input_folders: list[tuple[str, str]] = []
        self.outputs: list[Output] = []
        self.folder: str | None = None  # a batch's output folder, created after the check

    def add_input(self, path, role: str) -> None:
        if path is not None:
            self.inputs.append((role, os.fspath(path)))

    def add_input_folder(self, path, role: str) -> None:
        self.input_folders.append((role, os.fspath(path)))

    def add_output(self, path, what: str, source=None) -> None:
        self.outputs.append(Output(os.fspath(path), what, None if source is None else os.fspath(source)))

    # -- the checks, in the order a user needs them ------------------------------------------------

    def check(self) -> None:
        self._check_formats()
        self._check_folder_outside_inputs()
        self._check_not_an_input()
        self._check_no_collisions()
        self._check_writable()
        self._check_existing()

    def _check_formats(self) -> None:
        """A master's file type first: `-o take.json` is a wrong extension, not a collision with
        the settings file beside it."""
        from tonematch.data import formats

        for out in self.outputs:
            if out.what == "master":
                formats.output_format(out.path)

    def _check_not_an_input(self) -> None:
        by_id: dict = {}
        by_key: dict = {}
        for role, path in self.inputs:  # indexed: a batch of a thousand mixes checks in a moment
            ident = identity(path)
            if ident is not None:
                by_id.setdefault(ident, (role, path))
            by_key.setdefault(resolved(path), (role, path))
        for out in self.outputs:
            out_id = identity(out.path)
            hit = by_id.get(out_id) if out_id is not None else None
            hit = hit or by_key.get(resolved(out.path))
            if hit is not None:
                role, path = hit
                spelled = "" if out.path == path else f" (the same file as '{path}')"
                raise TonematchError(
                    f"{out.described()} would overwrite the {role}{spelled}; "
                    f"an input is never written to: choose another output name"
                )

    def _check_no_collisions(self) -> None:
        seen: dict[str, Output] = {}
        for out in self.outputs:
            key = resolved(out.path).casefold()
            first = seen.get(key)
            if first is None:
                seen[key] = out
                continue
            raise TonematchError(self._collision(first, out))

    def _collision(self, a: Output, b: Output) -> str:
        if a.source is None or b.source is None or a.source == b.source:
            if a.source is not None and a.source == b.source and a.what == b.what:
                return f"'{a.source}' is given twice"
            return f"two outputs of this run are one file: '{a.path}' and '{b.path}'; choose another output name"
        sa, sb = Path(a.source), Path(b.source)
        text = f"'{sa}' and '{sb}' would both be written to '{b.path}'"
        if sa.name != sb.name and sa.name.casefold() == sb.name.casefold():
            return text + " (names that differ only in case are one file on macOS and Windows disks); rename one"
        if sa.stem.casefold() == sb.stem.casefold() and sa.suffix.casefold() != sb.suffix.casefold():
            if self.keep_extension_hint:
                hint = "; rename one, or add --keep-extension to name each master after its whole file name "
                return text + hint + f"('{sa.stem}_{sa.suffix[1:]}', '{sb.stem}_{sb.suffix[1:]}')"
            return text + "; rename one"
        return text + "; rename one, or master the folders one at a time"

    def _check_folder_outside_inputs(self) -> None:
        if self.folder is None:
            return
        out = resolved(self.folder)
        for role, folder in self.input_folders:
            inp = resolved(folder)
            if out == inp or same_file(self.folder, folder):
                raise TonematchError(
                    f"the output folder '{self.folder}' is the {role} folder: the masters would be "
                    "written among the mixes; choose another folder"
                )
            if _inside(out, inp):
                raise TonematchError(
                    f"the output folder '{self.folder}' is inside the {role} folder '{folder}': the next run over "
                    f"'{folder}' would take the masters for mixes; choose a folder outside it"
                )

    def _check_writable(self) -> None:
        from tonematch.data import output_paths

        if self.folder is not None:
            if os.path.exists(self.folder) and not os.path.isdir(self.folder):
                raise TonematchError(f"several mixes need a folder for -o, and '{self.folder}' is a file")
            _check_creatable(self.folder)
        for out in self.outputs:
            if out.what == "style":  # save_style makes its folder
                if os.path.isdir(out.path):
                    raise TonematchError(f"cannot write '{out.path}': it is a folder")
                _check_creatable(os.path.dirname(os.path.abspath(out.path)))
                continue
            if self.folder is not None and _inside(resolved(out.path), resolved(self.folder)):
                if os.path.isdir(out.path):
                    raise TonematchError(f"cannot write '{out.path}': it is a folder")
                continue  # the folder is made once the plan holds
            output_paths.check_output_folder(out.path)
            folder = os.path.dirname(os.path.abspath(out.path))
            if not writable(folder):
                raise TonematchError(f"cannot write '{out.path}': folder '{folder}' is not writable")

    def _check_existing(self) -> None:
        existing = [o for o in self.outputs if os.path.lexists(o.path)]
        if not existing:
            return
        if not self.overwrite:
            more = f" (and {len(existing) - 1} more output(s) of this run)" if len(existing) > 1 else ""
            raise TonematchError(
                f"{existing[0].described()} already exists{more}; use --overwrite (-f) to replace "
                f"{'them' if more else 'it'}"
            )
        for o in existing:
            if os.path.isdir(o.path):
                raise TonematchError(f"cannot write '{o.path}': it is a folder")
            if not os.path.islink(o.path) and not writable(o.path):
                raise TonematchError(
                    f"{o.described()} is read-only: it is not replaced, even with --overwrite; "
                    "make it writable to replace it"
                )


def _check_creatable(folder: str) -> None:
    """`folder` exists and is writable, or its nearest existing parent is (it will be made)."""
    path = os.path.abspath(folder)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    if not os.path.isdir(path):
        raise TonematchError(f"cannot make the folder '{folder}': '{path}' is a file")
    if not os.access(path, os.W_OK | os.X_OK) or not writable(path):
        raise TonematchError(f"cannot write into '{folder}': '{path}' is not writable")
