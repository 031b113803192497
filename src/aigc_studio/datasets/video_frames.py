"""Training data of the learned video stages: interpolation triplets and sharp frame patches.

Both come from real footage and photographs that the package registries hold: the sample video
``vtest.avi`` and the photographs of Debian's ``opencv-doc`` package (``apt-get install
opencv-doc``), or any videos and images the caller names.

- ``frame-triplets`` (:func:`prepare_frame_triplets`): for frames ``(a, b, c)`` of a clip, the
  classical interpolation of ``a`` and ``c`` at the middle time
  (:class:`~aigc_studio.video.interpolate.PairInterpolator`: both neighbours warped, their
  occlusion-aware blend and its weight, and the two flows it warped along) is the input, with
  ``a`` and ``c`` themselves around the patch (so that a network can warp them again along
  corrected flows), and ``b`` the target. Photographs add
  triplets of a camera moving over them along a random accelerating path with zoom and roll.
  Patches are cut where the classical estimate is wrong (half of them, drawn in proportion to
  the local error) and anywhere (the other half), so that the network learns both to correct
  and to leave alone.
- ``sharp-frames`` (:func:`prepare_sharp_frames`): sharp patches of the photographs (at random
  scales) and of clip frames; the deblurring task blurs them on the fly.

The benchmarks hold material out: ``bench_interpolation.py`` scores the first 200 frames of
``vtest.avi`` and ``Megamind.avi``, ``bench_restoration.py`` the stills in
:data:`HELD_OUT_PHOTOS` and the clips ``Megamind.avi`` and ``tree.avi``; none of them is used
here by default (clip frames start at :data:`CLIP_START`).
"""

from __future__ import annotations

import gzip
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from aigc_studio.datasets.cache import write_cache
from aigc_studio.datasets.split import SPLITS, split_of
from aigc_studio.errors import MediaError, ParameterError, ToolMissingError

ProgressCallback = Callable[[str, int, int], None]

#: Where Debian's opencv-doc package puts its sample images and videos.
OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
#: Natural photographs of opencv-doc used for training (none is used by a benchmark).
TRAINING_PHOTOS = (
    "apple.jpg",
    "baboon.jpg",
    "basketball1.png",
    "board.jpg",
    "building.jpg",
    "butterfly.jpg",
    "ela_original.jpg",
    "fruits.jpg",
    "home.jpg",
    "left.jpg",
    "messi5.jpg",
    "orange.jpg",
    "pca_test1.jpg",
    "squirrel_cls.jpg",
    "starry_night.jpg",
    "stuff.jpg",
    "aloeL.jpg",
    "Blender_Suzanne1.jpg",
)
#: Stills the benchmarks score (and their near-duplicates): never trained on by default.
HELD_OUT_PHOTOS = (
    "chicky_512.png",
    "graf1.png",
    "graf3.png",
    "leuvenA.jpg",
    "leuvenB.jpg",
    "rubberwhale1.png",
    "rubberwhale2.png",
    "smarties.png",
    "aero1.jpg",
    "aero3.jpg",
)
#: The clip trained on by default; ``Megamind.avi`` and ``tree.avi`` are held out.
TRAINING_CLIPS = ("vtest.avi",)
#: First clip frame used: ``bench_interpolation.py`` scores frames before it.
CLIP_START = 200
#: Size of the frames of the synthesized camera moves over photographs (width, height).
CAMERA_SIZE = (320, 240)
#: Context pixels of the neighbour frames stored around each triplet patch.
TRIPLET_MARGIN = 16


def sample_path(name: str | os.PathLike[str], scratch: Path | None = None) -> Path:
    """Return a file: a path as given, or the name of an opencv-doc sample.

    A file found only compressed (``name.gz``, as Debian ships some samples) is decompressed
    into ``scratch``.

    Raises
    ------
    ToolMissingError
        If a bare sample name is asked for and opencv-doc is not installed.
    MediaError
        If a path does not exist.
    """
    path = Path(name)
    given = path.parent != Path(".") or path.is_file()
    candidate = path if given else OPENCV_SAMPLES / path.name
    if candidate.is_file():
        return candidate
    packed = candidate.with_name(candidate.name + ".gz")
    if packed.is_file() and scratch is not None:
        target = scratch / candidate.name
        with gzip.open(packed, "rb") as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
        return target
    if given:
        raise MediaError(f"{path}: no such file")
    raise ToolMissingError(
        f"{candidate} not found: the sample images and videos come from Debian's opencv-doc "
        "package (sudo apt-get install opencv-doc), or pass paths of your own"
    )


def read_photo(path: Path) -> np.ndarray:
    """Read an image file as uint8 RGB.

    Raises
    ------
    MediaError
        If OpenCV cannot decode it.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: not an image OpenCV can read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def camera_move(
    image: np.ndarray, count: int, rng: np.random.Generator, size: tuple[int, int] = CAMERA_SIZE
) -> list[np.ndarray]:
    """Frames of a camera moving over a photograph: accelerating pan, zoom and roll.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 RGB photograph.
    count : int
        Frames to make.
    rng : numpy.random.Generator
        Source of the path.
    size : (int, int)
        Frame (width, height).

    Returns
    -------
    list of numpy.ndarray
        uint8 RGB frames of ``size``, warped from ``image`` with sub-pixel accuracy.
    """
    width, height = size
    scale = max(width * 1.8 / image.shape[1], height * 1.8 / image.shape[0], 1.0)
    world = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    centre = np.array([world.shape[1], world.shape[0]], float) / 2
    velocity = rng.uniform(2.0, 10.0) * _unit(rng.uniform(0, 2 * np.pi))
    acceleration = rng.normal(0.0, 1.5, 2)
    zoom, zoom_rate = 1.0, rng.normal(0.0, 0.015)
    angle, angle_rate = 0.0, rng.normal(0.0, 0.6)
    position = centre.copy()
    limit = centre - np.array([width, height], float) * 0.7
    frames = []
    for _ in range(count):
        matrix = cv2.getRotationMatrix2D((float(position[0]), float(position[1])), angle, zoom)
        matrix[:, 2] += np.array([width, height], float) / 2 - position
        frames.append(
            cv2.warpAffine(
                world,
                matrix,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT,
            )
        )
        velocity = velocity + acceleration
        position = np.clip(position + velocity, centre - limit, centre + limit)
        zoom *= 1.0 + zoom_rate
        angle += angle_rate
    return frames


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def _clip_frames(path: Path, start: int, stop: int | None) -> Iterator[np.ndarray]:
    from aigc_studio.media.video_io import VideoReader

    with VideoReader(path) as reader:
        yield from itertools.islice(reader, start, stop)


def _clip_triplets(
    path: Path, start: int, stride: int, limit: int | None
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(index, a, b, c)`` for consecutive frames starting every ``stride`` frames."""
    window: list[np.ndarray] = []
    made = 0
    for index, frame in enumerate(_clip_frames(path, start, None), start=start):
        window.append(frame)
        if len(window) < 3:
            continue
        first = index - 2
        if (first - start) % stride == 0:
            yield first, window[0], window[1], window[2]
            made += 1
            if limit is not None and made >= limit:
                return
        window.pop(0)


def triplet_input(estimate: object) -> np.ndarray:
    """Stack a :class:`~aigc_studio.video.interpolate.WarpEstimate` as the refiner's input.

    Returns
    -------
    numpy.ndarray
        uint8 ``(H, W, 10)``: warped frame 0, warped frame 1, their blend (RGB each) and the
        weight of warped frame 0 scaled to 0-255. The network's input is this divided by 255.
    """
    from aigc_studio.video.frame_checks import to_uint8

    weight = estimate.weight0[..., None] * 255.0  # type: ignore[attr-defined]
    parts = (estimate.warped0, estimate.warped1, estimate.blended, weight)  # type: ignore[attr-defined]
    return to_uint8(np.concatenate(parts, axis=-1))


def _patch_corners(
    error: np.ndarray, patch: int, count: int, rng: np.random.Generator, margin: int = 0
) -> list[tuple[int, int]]:
    """Top-left corners: half drawn in proportion to the local error, half uniformly.

    Patches keep ``margin`` pixels from the frame's edges.
    """
    if margin:
        inner = _patch_corners(error[margin:-margin, margin:-margin], patch, count, rng)
        return [(top + margin, left + margin) for top, left in inner]
    height, width = error.shape
    if height < patch or width < patch:
        return []
    local = cv2.blur(error.astype(np.float32), (patch, patch))
    half = patch // 2
    local = local[half : height - patch + half + 1, half : width - patch + half + 1]
    weights = local.ravel().astype(np.float64) + 1e-6
    hard = count // 2
    picks = rng.choice(weights.size, size=hard, p=weights / weights.sum())
    picks = np.concatenate([picks, rng.integers(0, weights.size, count - hard)])
    return [(int(p) // local.shape[1], int(p) % local.shape[1]) for p in picks]


def prepare_frame_triplets(
    out_root: str | os.PathLike[str],
    *,
    clips: Sequence[str] = TRAINING_CLIPS,
    clip_start: int = CLIP_START,
    clip_stride: int = 3,
    max_clip_triplets: int = 200,
    photos: Sequence[str] = TRAINING_PHOTOS,
    moves_per_photo: int = 8,
    patch: int = 64,
    patches_per_triplet: int = 6,
    flow_preset: str = "medium",
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write the ``frame-triplets`` cache: classical middle-frame estimates and the truth.

    Each split stores ``inputs`` (N, patch, patch, 10) uint8 (see :func:`triplet_input`),
    ``flows`` (N, patch, patch, 4) float16 (the flows from the middle time to ``a`` and to
    ``c``, pixels), ``frames`` (N, patch + 2 m, patch + 2 m, 6) uint8 (``a`` and ``c`` with
    ``m`` = :data:`TRIPLET_MARGIN` pixels of context), ``target`` (N, patch, patch, 3) uint8 and
    ``item_id`` (``clip#frame`` or ``photo@move``);
    the split is :func:`~aigc_studio.datasets.split.split_of` of the clip frame, or of the
    photograph (all moves over one photograph share a split).

    Parameters
    ----------
    out_root : str or PathLike
        The cache folder.
    clips : sequence of str
        Videos (paths, or opencv-doc sample names).
    clip_start, clip_stride, max_clip_triplets : int
        First frame used, frames between triplet starts, most triplets per clip.
    photos : sequence of str
        Photographs (paths or opencv-doc names) to move a camera over.
    moves_per_photo : int
        Camera moves (one triplet each) per photograph.
    patch, patches_per_triplet : int
        Patch side (16-256) and patches cut from each triplet.
    flow_preset : str
        DIS preset of the classical estimate (as ``aigc video interpolate`` uses).
    seed : int
        Seed of the camera paths and patch positions.
    progress : callable, optional
        Called as ``progress(description, done, total)``.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    ParameterError
        If a size or count is out of range, or no patch could be cut.
    ToolMissingError
        If a sample name is used and opencv-doc is not installed.
    MediaError
        If a file cannot be read.
    """
    from aigc_studio.video.interpolate import PairInterpolator
    from aigc_studio.video.optical_flow import DISFlow

    _check_sizes(patch, patches_per_triplet, clip_start, clip_stride)
    rng = np.random.default_rng(seed)
    flow = DISFlow(flow_preset)
    fields = ("inputs", "flows", "frames", "target", "item_id")
    items: dict[str, dict[str, list]] = {s: {name: [] for name in fields} for s in SPLITS}
    margin = TRIPLET_MARGIN

    def add(item_id: str, split_key: str, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
        estimate = PairInterpolator(a, c, flow=flow).estimate(0.5)
        stack = triplet_input(estimate)
        error = np.abs(estimate.blended - b.astype(np.float32)).mean(axis=-1)
        flows = np.concatenate([estimate.flow_t0, estimate.flow_t1], axis=-1)
        neighbours = np.concatenate([a, c], axis=-1)
        split = items[split_of(split_key)]
        for top, left in _patch_corners(error, patch, patches_per_triplet, rng, margin):
            inside = (slice(top, top + patch), slice(left, left + patch))
            around = (
                slice(top - margin, top + patch + margin),
                slice(left - margin, left + patch + margin),
            )
            split["inputs"].append(stack[inside])
            split["flows"].append(flows[inside].astype(np.float16))
            split["frames"].append(neighbours[around])
            split["target"].append(b[inside])
            split["item_id"].append(item_id)

    total = len(clips) * max_clip_triplets + len(photos) * moves_per_photo
    done = 0
    with tempfile.TemporaryDirectory(prefix="aigc-frames-") as scratch:
        for clip in clips:
            path = sample_path(clip, Path(scratch))
            for index, a, b, c in _clip_triplets(path, clip_start, clip_stride, max_clip_triplets):
                item_id = f"{path.name}#{index}"
                add(item_id, item_id, a, b, c)
                done += 1
                if progress is not None:
                    progress("frame triplets", done, total)
        for photo in photos:
            image = read_photo(sample_path(photo, Path(scratch)))
            for move in range(moves_per_photo):
                a, b, c = camera_move(image, 3, rng)
                add(f"{Path(photo).name}@{move}", Path(photo).name, a, b, c)
                done += 1
                if progress is not None:
                    progress("frame triplets", done, total)
    if not items["train"]["inputs"]:
        raise ParameterError(f"no {patch}x{patch} patch could be cut: the frames are too small")
    params = {
        "clips": [Path(c).name for c in clips],
        "clip_start": clip_start,
        "clip_stride": clip_stride,
        "max_clip_triplets": max_clip_triplets,
        "photos": [Path(p).name for p in photos],
        "moves_per_photo": moves_per_photo,
        "patch": patch,
        "patches_per_triplet": patches_per_triplet,
        "flow_preset": flow_preset,
        "seed": seed,
        "channels": "warped0 RGB, warped1 RGB, blend RGB, weight0 x 255",
        "margin": margin,
        "split": "split_of(clip#frame or photo name, valid_fraction=0.1, test_fraction=0.1)",
    }
    shapes = {
        "inputs": (patch, patch, 10),
        "flows": (patch, patch, 4),
        "frames": (patch + 2 * margin, patch + 2 * margin, 6),
        "target": (patch, patch, 3),
    }
    return write_cache(out_root, "frame-triplets", params, _stacked(items, shapes))


def prepare_sharp_frames(
    out_root: str | os.PathLike[str],
    *,
    photos: Sequence[str] = TRAINING_PHOTOS,
    patches_per_photo: int = 48,
    clips: Sequence[str] = TRAINING_CLIPS,
    clip_start: int = CLIP_START,
    clip_every: int = 25,
    patches_per_frame: int = 4,
    patch: int = 128,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write the ``sharp-frames`` cache: sharp patches for training a deblurring network.

    Photographs are cut at a random scale in [0.5, 1] (downscaling sharpens, and varies the
    size of detail); clip frames at their own scale. Each split stores ``sharp``
    (N, patch, patch, 3) uint8 and ``item_id``; all patches of one image share a split.

    Parameters
    ----------
    out_root : str or PathLike
        The cache folder.
    photos : sequence of str
        Photographs (paths or opencv-doc names).
    patches_per_photo : int
        Patches cut from each photograph.
    clips : sequence of str
        Videos (paths or opencv-doc names); empty for none.
    clip_start, clip_every, patches_per_frame : int
        First frame, frames between those used, patches per frame used.
    patch : int
        Patch side, 16-256.
    seed : int
        Seed of the scales and positions.
    progress : callable, optional
        Called as ``progress(description, done, total)``.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    ParameterError
        If a size or count is out of range, or no patch could be cut.
    ToolMissingError
        If a sample name is used and opencv-doc is not installed.
    MediaError
        If a file cannot be read.
    """
    _check_sizes(patch, patches_per_photo, clip_start, clip_every)
    rng = np.random.default_rng(seed)
    items: dict[str, dict[str, list]] = {s: {"sharp": [], "item_id": []} for s in SPLITS}

    def cut(item_id: str, image: np.ndarray, count: int) -> None:
        height, width = image.shape[:2]
        if height < patch or width < patch:
            return
        split = items[split_of(item_id)]
        for _ in range(count):
            top = int(rng.integers(0, height - patch + 1))
            left = int(rng.integers(0, width - patch + 1))
            split["sharp"].append(image[top : top + patch, left : left + patch])
            split["item_id"].append(item_id)

    with tempfile.TemporaryDirectory(prefix="aigc-frames-") as scratch:
        for done, photo in enumerate(photos, start=1):
            image = read_photo(sample_path(photo, Path(scratch)))
            for _ in range(patches_per_photo):
                scale = float(rng.uniform(0.5, 1.0))
                scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                cut(Path(photo).name, scaled, 1)
            if progress is not None:
                progress("sharp patches", done, len(photos))
        for clip in clips:
            path = sample_path(clip, Path(scratch))
            for index, frame in enumerate(_clip_frames(path, clip_start, None), start=clip_start):
                if (index - clip_start) % clip_every == 0:
                    cut(f"{path.name}#{index}", frame, patches_per_frame)
    if not items["train"]["sharp"]:
        raise ParameterError(f"no {patch}x{patch} patch could be cut: the images are too small")
    params = {
        "photos": [Path(p).name for p in photos],
        "patches_per_photo": patches_per_photo,
        "clips": [Path(c).name for c in clips],
        "clip_start": clip_start,
        "clip_every": clip_every,
        "patches_per_frame": patches_per_frame,
        "patch": patch,
        "seed": seed,
        "split": "split_of(image id, valid_fraction=0.1, test_fraction=0.1)",
    }
    return write_cache(
        out_root, "sharp-frames", params, _stacked(items, {"sharp": (patch, patch, 3)})
    )


def _check_sizes(patch: int, count: int, start: int, stride: int) -> None:
    if not 16 <= patch <= 256:
        raise ParameterError(f"patch must be in [16, 256], got {patch}")
    if not 1 <= count <= 1000:
        raise ParameterError(f"patches per image must be in [1, 1000], got {count}")
    if start < 0 or stride < 1:
        raise ParameterError(f"clip start must be >= 0 and its stride >= 1, got {start}, {stride}")


def _stacked(
    items: dict[str, dict[str, list]], shapes: dict[str, tuple[int, ...]]
) -> dict[str, dict[str, np.ndarray]]:
    """Turn per-split lists of patches into arrays (an empty split gets (0, *shape))."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for split, columns in items.items():
        arrays: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            if name == "item_id":
                arrays[name] = np.asarray(values, dtype=str) if values else np.zeros(0, "U1")
            else:
                dtype = np.float16 if name == "flows" else np.uint8
                arrays[name] = (
                    np.stack(values).astype(dtype)
                    if values
                    else np.zeros((0, *shapes[name]), dtype)
                )
        out[split] = arrays
    return out
