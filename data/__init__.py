"""Data for tonematch: audio I/O (audio, writer, resample), the decode cache, track splits,
degradations and the two training datasets (selfsup: mastered music alone; pairs: real
mix/master pairs, aligned by align). Submodules are imported explicitly: `import tonematch.data`
stays cheap (no torch) for the command-line tools.
"""
