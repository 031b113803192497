from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aigc_studio.cli import run
from aigc_studio.dsp import measure_loudness
from aigc_studio.library import OutputLibrary, Provenance
from aigc_studio.media import load_audio, read_audio_tags
from aigc_studio.media.video_io import VideoReader, read_video_metadata
from aigc_studio.showcase import run_showcase


def test_showcase_writes_processes_and_records_everything(tmp_path: Path) -> None:
    steps: list[str] = []
    with OutputLibrary(tmp_path / "lib.sqlite3") as library:
        outputs = run_showcase(
            tmp_path / "out", library=library, on_step=lambda text, done, total: steps.append(text)
        )
        assert len(outputs) == 13 and library.count() == 13
        for item in outputs:
            assert item.path.is_file()
            assert library.verify(item.path).status == "recorded"
        by_name = {item.path.name: item for item in outputs}
        # the normalized audio is at the target and says where it came from
        audio, sr = load_audio(by_name["melody-normalized.flac"].path)
        assert measure_loudness(audio, sr).integrated_lufs == pytest.approx(-16.0, abs=0.2)
        prov = Provenance.parse_embedded(
            read_audio_tags(by_name["melody-normalized.flac"].path)["comment"]
        )
        assert prov is not None and prov.inputs[0].path.endswith("sample-melody.wav")
        # the final video keeps its frames and carries a louder sound track, and its provenance
        final = by_name["clip-normalized.mp4"].path
        with VideoReader(final) as reader:
            assert reader.has_audio and reader.size == (320, 180)
            track, track_sr = reader.read_audio()
            assert sum(1 for _ in reader) == reader.frame_count
        assert measure_loudness(track, track_sr).integrated_lufs == pytest.approx(-16.0, abs=1.0)
        assert "aigc-provenance" in read_video_metadata(final).get("comment", "")
    assert steps[0].startswith("synthesizing") and steps[-1] == "done"
    neural = library_record_model(
        tmp_path / "lib.sqlite3", by_name["melody-neural-instrument.wav"].path
    )
    assert neural == "neural-instrument"
    rebuilt, _ = load_audio(by_name["melody-griffinlim.wav"].path)
    assert np.abs(rebuilt).max() > 0.01  # Griffin-Lim produced sound, not silence


def test_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--quiet", "demo", "-o", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "demo outputs" in out
    with OutputLibrary() as library:
        paths = {Path(record.path).name for record in library.list()}
    assert "clip-normalized.mp4" in paths and len(paths) == 13
    assert (tmp_path / "demo" / "clip-normalized.mp4").is_file()


def library_record_model(db: Path, path: Path) -> str | None:
    with OutputLibrary(db) as library:
        record = library.verify(path).record
    return None if record is None else record.model
