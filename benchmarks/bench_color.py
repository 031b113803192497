"""Video color correction: flicker and gray-world error before and after, against ffmpeg's filters.

Real clips from Debian's opencv-doc package (``Megamind.avi``: animation with hard cuts,
``tree.avi``: handheld, ``vtest.avi``: a static street camera; the first 64 frames of each,
``tree.avi`` has 68), each as it is and under three synthetic degradations:

- **cast**: a constant warm cast, RGB gains (1.25, 1.0, 0.7), as under tungsten light with the
  camera set for daylight;
- **flicker**: each frame's brightness scaled by an independent random factor in [0.92, 1.08]
  (mains-frequency lighting, an auto-exposure that hunts);
- **cast + flicker**: both.

Compared: the degraded input; ``aigc video color`` with its defaults (``ColorCorrector``:
deflicker over 5 frames, white-patch white balance, CLAHE on lightness, parameters smoothed over
time and restarted at cuts); the same correction on each frame alone (``smoothing=0``, no
deflicker: what the temporal part is for); our white balance alone (``contrast=False``), the
like-for-like match for ffmpeg's white-balance filters; the defaults before this benchmark
existed (gray world, no deflicker); and ffmpeg's ``grayworld`` (gray world in LAB),
``greyedge`` (grey-edge, van de Weijer et al. 2007, ``difford=1:minknorm=5:sigma=2``, the
settings its documentation gives) and ``grayworld,deflicker`` (``deflicker`` averages the
brightness of 5 frames).

Metrics (``aigc_studio.evaluation.video``): **flicker**, the mean absolute frame-to-frame change
of mean luma in 8-bit levels (the clean clip's own value is its natural motion); **gray-world
error**, how far each frame's mean color is from gray (0 = gray; the metric the issue names,
and the very assumption gray-world methods enforce, so it flatters them); and, because of that,
also the **cast left**: the angle in degrees between each frame's mean RGB and the clean
frame's, which is 0 when the original colors are restored whatever they are (a green lawn stays
green). Speed is CPU milliseconds per frame on one thread (ffmpeg's decoding of raw frames
included).

First, the table on which the white-balance method was chosen: 18 opencv-doc photographs (none
of them a frame of the clips) under six casts, cast left against the photograph (each reduced to
480 pixels a side). Usage: python benchmarks/bench_color.py [--frames N] [--no-ffmpeg]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

import _common

CLIPS = ("Megamind.avi", "tree.avi", "vtest.avi")
#: Photographs (none of them a frame of CLIPS) on which the white-balance method was chosen.
TUNING_STILLS = (
    "aero1.jpg", "aero3.jpg", "apple.jpg", "baboon.jpg", "building.jpg", "butterfly.jpg",
    "fruits.jpg", "home.jpg", "messi5.jpg", "orange.jpg", "rubberwhale1.png", "smarties.png",
    "squirrel_cls.jpg", "leuvenA.jpg", "graf1.png", "chicky_512.png", "HappyFish.jpg",
    "stuff.jpg",
)  # fmt: skip
#: RGB gains of the casts put on the stills: none, warm, mild warm, cool, magenta, green.
STILL_CASTS = (
    (1.0, 1.0, 1.0), (1.25, 1.0, 0.7), (1.1, 1.0, 0.85), (0.8, 1.0, 1.25), (1.1, 0.85, 1.1),
    (0.9, 1.1, 0.85),
)  # fmt: skip
CAST = np.array([1.25, 1.0, 0.7], np.float32)
FLICKER = 0.08
FFMPEG_FILTERS = {
    "ffmpeg grayworld": "grayworld",
    "ffmpeg greyedge": "greyedge=difford=1:minknorm=5:sigma=2",
    "ffmpeg grayworld + deflicker": "grayworld,deflicker=size=5:mode=am",
}


def degrade(frames: list[np.ndarray], kind: str, seed: int) -> list[np.ndarray]:
    """Return the frames under one of the synthetic degradations (rounded to 8 bits)."""
    if kind == "none":
        return frames
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        gains = np.ones(3, np.float32)
        if "cast" in kind:
            gains = gains * CAST
        if "flicker" in kind:
            gains = gains * np.float32(1.0 + rng.uniform(-FLICKER, FLICKER))
        out.append(np.clip(frame * gains + 0.5, 0, 255).astype(np.uint8))
    return out


def ours(**settings: object) -> Callable[[list[np.ndarray]], Iterable[np.ndarray]]:
    from aigc_studio.video.color import ColorCorrectionConfig, ColorCorrector

    def run(frames: list[np.ndarray]) -> Iterable[np.ndarray]:
        return ColorCorrector(ColorCorrectionConfig(**settings)).process(frames)  # type: ignore[arg-type]

    return run


def ffmpeg_filter(chain: str) -> Callable[[list[np.ndarray]], Iterable[np.ndarray]]:
    def run(frames: list[np.ndarray]) -> Iterable[np.ndarray]:
        height, width = frames[0].shape[:2]
        command = [
            "ffmpeg", "-v", "error", "-nostdin", "-threads", "1", "-filter_threads", "1",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", "25",
            "-i", "pipe:0", "-vf", chain, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
        ]  # fmt: skip
        data = b"".join(np.ascontiguousarray(frame).tobytes() for frame in frames)
        done = subprocess.run(command, input=data, capture_output=True, check=False)
        if done.returncode:
            raise SystemExit(f"ffmpeg -vf {chain} failed: {done.stderr.decode().strip()}")
        size = width * height * 3
        raw = done.stdout
        return [
            np.frombuffer(raw[i : i + size], np.uint8).reshape(height, width, 3)
            for i in range(0, len(raw) - size + 1, size)
        ]

    return run


def cast_angle(frame: np.ndarray, clean: np.ndarray) -> float:
    """Angle (degrees) between the mean RGB colors of two frames; 0 if either is black.

    (A black frame, such as the one at a cut in Megamind.avi, has no color to compare.)
    """
    a = frame.reshape(-1, 3).mean(axis=0, dtype=np.float64)
    b = clean.reshape(-1, 3).mean(axis=0, dtype=np.float64)
    if min(np.linalg.norm(a), np.linalg.norm(b)) < 1.0:
        return 0.0
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def scores(out: list[np.ndarray], clean: list[np.ndarray]) -> tuple[float, float, float]:
    from aigc_studio.evaluation.video import flicker, gray_world_error

    if len(out) != len(clean):
        raise SystemExit(f"a method returned {len(out)} frames for {len(clean)}")
    return (
        flicker(out),
        float(np.mean([gray_world_error(frame) for frame in out])),
        float(np.mean([cast_angle(a, b) for a, b in zip(out, clean, strict=True)])),
    )


def stills_table(scratch: Path, have_ffmpeg: bool) -> None:
    """Print the white-balance table on the tuning stills (where white patch was chosen)."""
    from aigc_studio.datasets.video_frames import read_photo
    from aigc_studio.video.color import white_balance_gains

    images = []
    for name in TUNING_STILLS:
        image = read_photo(_common.sample_file(name, scratch))
        scale = 480 / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        images.append(image)

    def balance(method: str) -> Callable[[list[np.ndarray]], Iterable[np.ndarray]]:
        def run(frames: list[np.ndarray]) -> Iterable[np.ndarray]:
            for frame in frames:
                gains = white_balance_gains(frame, method=method)
                yield np.clip(frame * gains + 0.5, 0, 255).astype(np.uint8)

        return run

    methods = {
        "input, no correction": lambda frames: frames,
        "ours, white patch (default)": balance("white-patch"),
        "ours, gray world": balance("gray-world"),
    }
    if have_ffmpeg:
        methods["ffmpeg grayworld"] = ffmpeg_filter(FFMPEG_FILTERS["ffmpeg grayworld"])
        methods["ffmpeg greyedge"] = ffmpeg_filter(FFMPEG_FILTERS["ffmpeg greyedge"])
    rows = []
    for method_name, method in methods.items():
        angles = []
        for image in images:
            for cast in STILL_CASTS:
                tinted = np.clip(image * np.float32(cast) + 0.5, 0, 255).astype(np.uint8)
                (out,) = list(method([tinted]))
                angles.append(cast_angle(out, image))
        rows.append([method_name, float(np.mean(angles)), float(np.median(angles))])
    print(
        f"White balance on {len(images)} opencv-doc photographs x {len(STILL_CASTS)} casts "
        "(the tuning set; cast left in degrees)\n"
    )
    print(_common.markdown_table(["method", "mean ↓", "median ↓"], rows))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64, help="frames per clip")
    parser.add_argument("--no-ffmpeg", action="store_true", help="skip ffmpeg's filters")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    have_ffmpeg = shutil.which("ffmpeg") is not None and not args.no_ffmpeg
    with tempfile.TemporaryDirectory(prefix="bench-color-") as tmp:
        stills_table(Path(tmp), have_ffmpeg)
    methods: dict[str, Callable[[list[np.ndarray]], Iterable[np.ndarray]]] = {
        "input, no correction": lambda frames: frames,
        "ours, `aigc video color` defaults": ours(),
        "ours, each frame on its own (no smoothing, no deflicker)": ours(
            smoothing=0.0, deflicker=False
        ),
        "ours, white balance only (white patch, deflicker)": ours(contrast=False),
        "ours before: gray world, no deflicker": ours(
            white_balance_method="gray-world", deflicker=False
        ),
    }
    if have_ffmpeg:
        methods.update({name: ffmpeg_filter(chain) for name, chain in FFMPEG_FILTERS.items()})
    degradations = ("none", "cast", "flicker", "cast + flicker")
    totals: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-color-") as tmp:
        scratch = Path(tmp)
        for clip_index, name in enumerate(CLIPS):
            clean = _common.load_clip(name, 0, args.frames if name != "tree.avi" else 68, scratch)
            for kind in degradations:
                degraded = degrade(clean, kind, seed=clip_index)
                for method_name, method in methods.items():
                    start = _common.cpu_seconds()
                    out = list(method(degraded))
                    ms = 1000 * (_common.cpu_seconds() - start) / len(degraded)
                    totals.setdefault((kind, method_name), []).append((*scores(out, clean), ms))
            print(f"{name}: {len(clean)} frames of {clean[0].shape[1]}x{clean[0].shape[0]}")
    # (Values below 0.005 print as 0: the input's own cast and the copying "method"'s time.)
    means = {
        key: np.where(np.abs(mean) < 0.005, 0.0, mean)
        for key, mean in ((key, np.mean(values, axis=0)) for key, values in totals.items())
    }
    print(f"\nColor correction, mean over {', '.join(CLIPS)} ({_common.machine_line()})\n")
    summary = [
        [
            method_name,
            means[("flicker", method_name)][0],
            means[("none", method_name)][0],
            means[("cast", method_name)][2],
            means[("none", method_name)][2],
            means[("cast", method_name)][1],
            float(np.mean([means[(kind, method_name)][3] for kind in degradations])),
        ]
        for method_name in methods
    ]
    headers = [
        "method", "flicker ↓ (8% flicker in)", "flicker ↓ (clean in)", "cast left (°) ↓ (cast in)",
        "cast left (°) ↓ (clean in)", "gray-world error (cast in)", "ms/frame",
    ]  # fmt: skip
    print(_common.markdown_table(headers, summary))
    print("\nAll four inputs\n")
    rows = [[kind, method_name, *value.tolist()] for (kind, method_name), value in means.items()]
    headers = [
        "input", "method", "flicker (levels) ↓", "gray-world error",
        "cast left (°) ↓", "ms/frame",
    ]  # fmt: skip
    print(_common.markdown_table(headers, rows))


if __name__ == "__main__":
    main()
