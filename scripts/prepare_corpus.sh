#!/usr/bin/env bash
# The training folder of the shipped model: the corpus's music plus its MIDI rendered with
# fluidsynth (raw General MIDI mixes: unmastered-sounding material).
#   scripts/prepare_corpus.sh [CORPUS]     (default: $TONEMATCH_CORPUS or ~/.cache/tonematch-corpus)
# Needs the corpus (fetched by its own fetch.sh) and fluidsynth (apt-get install -y fluidsynth).
# Result: CORPUS/train_root/{music,midi_render} -> tonematch-train data.root=CORPUS/train_root
set -euo pipefail
C=${1:-${TONEMATCH_CORPUS:-$HOME/.cache/tonematch-corpus}}
PY=${PYTHON:-python3}
mkdir -p "$C/midi_render" "$C/train_root"
tmp=$(mktemp --suffix .wav)
trap 'rm -f "$tmp"' EXIT
find -L "$C/midi" -name '*.mid' | sort | while read -r f; do
  out="$C/midi_render/$(basename "$f" .mid).flac"
  [ -f "$out" ] && continue
  # gain 0.25: denser songs clip at higher gains; flac keeps the float render's headroom as 24-bit
  fluidsynth -ni -g 0.25 -r 44100 -F "$tmp" "$C/soundfont/TimGM6mb.sf2" "$f" > /dev/null 2>&1 || continue
  "$PY" -c "import soundfile as sf, sys; x, sr = sf.read(sys.argv[1], dtype='float32'); sf.write(sys.argv[2], x, sr, subtype='PCM_24')" "$tmp" "$out"
done
ln -sfn "$C/music" "$C/train_root/music"
ln -sfn "$C/midi_render" "$C/train_root/midi_render"
echo "training folder: $C/train_root ($(find -L "$C/train_root" -type f | wc -l) files)"
