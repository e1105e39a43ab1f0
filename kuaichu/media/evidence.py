"""Moved to kuaichu.media.frame_capture (and the picture helpers to kuaichu.media.picture);
shim removed in the final sweep."""

from kuaichu.media.frame_capture import DECODERS as DECODERS
from kuaichu.media.frame_capture import Capture as Capture
from kuaichu.media.frame_capture import CaptureBusy as CaptureBusy
from kuaichu.media.frame_capture import CaptureTimeout as CaptureTimeout
from kuaichu.media.frame_capture import FrameCapturer as FrameCapturer
from kuaichu.media.picture import JPEG_QSCALE as JPEG_QSCALE
from kuaichu.media.picture import SCORE_MAX_WIDTH as SCORE_MAX_WIDTH
from kuaichu.media.picture import VIDEO_CLOCK_RATE as VIDEO_CLOCK_RATE
from kuaichu.media.picture import downscale as downscale
from kuaichu.media.picture import encode_jpeg as encode_jpeg
from kuaichu.media.picture import laplacian_variance as laplacian_variance
from kuaichu.media.picture import luma as luma
from kuaichu.media.picture import sharpness as sharpness
