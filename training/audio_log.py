"""Stereo audio examples in TensorBoard.

SummaryWriter.add_audio only takes mono, and width is one of the things the chain changes, so the
summary protobuf (which supports any channel count) is built here from a 16-bit WAV.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import torch
from tensorboard.compat.proto.summary_pb2 import Summary


def stereo_summary(tag: str, audio: torch.Tensor, sample_rate: int) -> Summary:
    """[C, T] float audio -> an audio Summary; values beyond full scale are clipped."""
    x = audio.detach().float().cpu().numpy()
    x = np.nan_to_num(x, nan=0.0).clip(-1.0, 1.0)
    pcm = (x.T * 32767.0).astype("<i2")  # frames first: interleaved channels
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(x.shape[0])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    clip = Summary.Audio(
        sample_rate=float(sample_rate),
        num_channels=x.shape[0],
        length_frames=x.shape[1],
        encoded_audio_string=buf.getvalue(),
        content_type="audio/wav",
    )
    return Summary(value=[Summary.Value(tag=tag, audio=clip)])


def add_stereo_audio(writer, tag: str, audio: torch.Tensor, sample_rate: int, step: int) -> None:
    """Write through the SummaryWriter's file writer, exactly as its own add_audio does."""
    writer._get_file_writer().add_summary(stereo_summary(tag, audio, sample_rate), step)
