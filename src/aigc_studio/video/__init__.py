"""Video enhancement and restoration on streamed frames: shots, interpolation, color, restoration.

- :mod:`~aigc_studio.video.shots`: shot boundaries of a file (PySceneDetect) and a light per-frame
  scene-cut test for streaming pipelines.
- :mod:`~aigc_studio.video.optical_flow`: dense optical flow (DIS), backward warping and the
  forward-backward consistency test.
- :mod:`~aigc_studio.video.interpolate`: frame interpolation and retiming by bidirectional flow,
  never across a scene cut, with a hook for a learned refinement network.
- :mod:`~aigc_studio.video.color`: white balance, contrast, saturation, color transfer and a
  temporally stable corrector.
- :mod:`~aigc_studio.video.deflicker`: brightness flicker evened out over a centred window.
- :mod:`~aigc_studio.video.deblur`: Wiener deconvolution with a blur estimated once per shot,
  unsharp masking, and the hook for a learned deblurring network (the shipped one:
  :func:`aigc_studio.video.learned.load_deblur_network`).
- :mod:`~aigc_studio.video.inpaint`: removal of a logo, watermark or object, filled from other
  frames along optical flow, then spatially.
- :mod:`~aigc_studio.video.denoise`: motion-compensated temporal averaging and a bilateral
  filter.
- :mod:`~aigc_studio.video.enhance`: denoise, light sharpening and color correction in one pass.

Every function takes ``uint8`` RGB frames of shape ``(H, W, 3)``, one at a time or as an
iterator, and never holds a whole video. Files are read and written by
:mod:`aigc_studio.media.video_io`; the trained networks (refinement, deblurring) live in
:mod:`aigc_studio.models`, not here.
"""

from aigc_studio.video.color import (
    ColorCorrectionConfig,
    ColorCorrector,
    ColorStats,
    adjust_saturation,
    auto_white_balance,
    color_statistics,
    enhance_contrast,
    gray_world_gains,
    transfer_color,
    white_balance_gains,
    white_patch_gains,
)
from aigc_studio.video.deblur import (
    DeblurConfig,
    Deblurrer,
    deblur_frame,
    deblur_frames,
    estimate_blur_sigma,
    unsharp_mask,
    wiener_deconvolve,
)
from aigc_studio.video.deflicker import Deflicker, DeflickerConfig, mean_luma
from aigc_studio.video.denoise import (
    DenoiseConfig,
    VideoDenoiser,
    denoise_frames,
    estimate_noise_sigma,
)
from aigc_studio.video.enhance import EnhanceConfig, VideoEnhancer, enhance_frames
from aigc_studio.video.inpaint import (
    InpaintConfig,
    VideoInpainter,
    box_mask,
    inpaint_frame,
    inpaint_frames,
)
from aigc_studio.video.interpolate import (
    PairInterpolator,
    WarpEstimate,
    interpolate_frames,
    interpolate_pair,
    interpolate_timed,
    retime,
    retime_timed,
    retimed_frame_count,
)
from aigc_studio.video.optical_flow import DISFlow, flow_inconsistency, warp_backward
from aigc_studio.video.shots import Shot, detect_shots, is_scene_cut, scene_cut_score

__all__ = [
    "ColorCorrectionConfig",
    "ColorCorrector",
    "ColorStats",
    "DISFlow",
    "DeblurConfig",
    "Deblurrer",
    "Deflicker",
    "DeflickerConfig",
    "DenoiseConfig",
    "EnhanceConfig",
    "InpaintConfig",
    "PairInterpolator",
    "Shot",
    "VideoDenoiser",
    "VideoEnhancer",
    "VideoInpainter",
    "WarpEstimate",
    "adjust_saturation",
    "auto_white_balance",
    "box_mask",
    "color_statistics",
    "deblur_frame",
    "deblur_frames",
    "denoise_frames",
    "detect_shots",
    "enhance_contrast",
    "enhance_frames",
    "estimate_blur_sigma",
    "estimate_noise_sigma",
    "gray_world_gains",
    "flow_inconsistency",
    "inpaint_frame",
    "inpaint_frames",
    "interpolate_frames",
    "interpolate_pair",
    "interpolate_timed",
    "is_scene_cut",
    "mean_luma",
    "retime",
    "retime_timed",
    "retimed_frame_count",
    "scene_cut_score",
    "transfer_color",
    "unsharp_mask",
    "warp_backward",
    "white_balance_gains",
    "white_patch_gains",
    "wiener_deconvolve",
]
