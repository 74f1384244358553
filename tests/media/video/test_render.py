"""The MP4 a render leaves, read back with PyAV: duration, size, codecs, rate, layout, pictures, sound."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import av
import pytest
from PIL import Image

from media.video.encode import run_ffmpeg
from media.video.graph import encode_command
from media.video.plan import FPS, TRANSITION_FRAMES, plan_video
from media.video.render import draw_card
from media.video.spec import select_pocs
from tests.media.video.conftest import Rendered, frames_at, mean_difference, spec, top_level_boxes

# A frame of a card vs. the card drawn alone differs by H.264's loss only (≈1 on this scale); a frame of
# another card of the same kind differs by its text (well above this).
SAME_CARD = 2.5


def test_the_file_probes_as_planned(basic_video: Rendered) -> None:
    plan = plan_video(select_pocs(basic_video.rows, basic_video.spec.period))
    assert plan.duration == 14.0  # title 3 + 2 POCs 3+3 + stats 4 + outro 3, minus 4 transitions of 0.5
    result = basic_video.result
    assert sorted(os.listdir(result.video.parent)) == ["captions.vtt", "thumbnail.jpg", "video.mp4"]
    assert abs(result.duration - plan.duration) <= 0.5
    assert (result.width, result.height) == (1280, 720)
    assert result.size == result.video.stat().st_size
    assert result.poc_count == 2
    with av.open(str(result.video)) as container:
        assert container.duration is not None
        assert abs(container.duration / av.time_base - plan.duration) <= 0.5
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == (1280, 720)
        assert video.average_rate == FPS
        assert video.frames == plan.total_frames
        assert audio.codec_context.name == "aac"
        assert audio.duration is not None
        assert abs(float(audio.duration * audio.time_base) - plan.duration) <= 0.5


def test_moov_comes_before_mdat(basic_video: Rendered) -> None:
    boxes = list(top_level_boxes(basic_video.result.video))
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat")


def test_frames_in_the_middle_of_the_title_and_a_poc_card_are_those_cards(basic_video: Rendered) -> None:
    video_spec = basic_video.spec
    plan = plan_video(select_pocs(basic_video.rows, video_spec.period))
    title, first_poc, second_poc = plan.slots[0], plan.slots[1], plan.slots[2]
    middles = {slot.kind + str(slot.position): slot.start + slot.frames // 2 for slot in (title, first_poc)}
    assert all(
        slot.start + TRANSITION_FRAMES <= middle <= slot.end - TRANSITION_FRAMES
        for slot, middle in zip((title, first_poc), middles.values(), strict=True)
    )
    frames = frames_at(basic_video.result.video, list(middles.values()))
    title_image = draw_card(video_spec, plan, title).image
    poc_image = draw_card(video_spec, plan, first_poc).image
    other_poc_image = draw_card(video_spec, plan, second_poc).image
    title_frame, poc_frame = frames[middles["title0"]], frames[middles["poc1"]]
    assert mean_difference(title_frame, title_image) < SAME_CARD
    assert mean_difference(poc_frame, poc_image) < SAME_CARD
    # The comparison can fail: the frame is not the other POC's card, nor the title card.
    assert mean_difference(poc_frame, other_poc_image) > SAME_CARD
    assert mean_difference(poc_frame, title_image) > SAME_CARD


def test_progress_rises_to_100(basic_video: Rendered) -> None:
    progress = basic_video.progress
    assert progress[-1] == 100.0
    assert all(later > earlier for earlier, later in itertools.pairwise(progress))
    assert all(0 < value <= 100 for value in progress)
    # ffmpeg's own progress output was read: many steps between the drawing (≤ 5 %) and the end.
    assert len([value for value in progress if 5 < value < 100]) >= 5


def test_the_thumbnail_is_the_title_card(basic_video: Rendered) -> None:
    plan = plan_video(select_pocs(basic_video.rows, basic_video.spec.period))
    with Image.open(basic_video.result.thumbnail) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (1280, 720)
        title = draw_card(basic_video.spec, plan, plan.slots[0]).image
        assert mean_difference(thumbnail.convert("RGB"), title) < SAME_CARD


def test_captions_parse_as_webvtt_and_carry_each_cards_words(basic_video: Rendered) -> None:
    plan = plan_video(select_pocs(basic_video.rows, basic_video.spec.period))
    cues: list[tuple[float, float, str]] = []
    with av.open(str(basic_video.result.captions)) as container:  # ffmpeg's WebVTT demuxer
        stream = container.streams.subtitles[0]
        assert stream.codec_context.name == "webvtt"
        for packet in container.demux(stream):
            if packet.pts is None or packet.duration is None:
                continue
            start = float(packet.pts * packet.time_base)
            cues.append((start, start + float(packet.duration * packet.time_base), bytes(packet).decode()))
    assert len(cues) == len(plan.slots)
    for index, (start, end, _) in enumerate(cues):
        first, last = plan.cue(index)
        assert (start, end) == pytest.approx((first / FPS, last / FPS), abs=0.002)
    words = [text for _, _, text in cues]
    assert "Ana Conceição" in words[0] and "Seu ano em POCs" in words[0]
    assert "Editor colaborativo 🚀" in words[1] and "Python" in words[1] and "ana/editor-0" in words[1]
    assert "Realtime editor 1" in words[2] and "Elixir" in words[2] and "#crdt #yjs" in words[2]
    assert "Em números" in words[3] and "Elixir: 1" in words[3]
    assert "Obrigado, Ana Conceição!" in words[4]


def test_a_percent_sign_in_a_card_path_is_not_read_as_a_frame_number_pattern(tmp_path: Path) -> None:
    video_spec = spec()
    plan = plan_video([])
    cards = [draw_card(video_spec, plan, slot).image for slot in plan.slots]
    literal, numbered = tmp_path / "cards 100%03d", tmp_path / "cards 100000"  # what "%03d" would make of it
    literal.mkdir()
    numbered.mkdir()
    images = []
    for index, image in enumerate(cards):
        image.save(literal / f"{index}.png")
        cards[-1 - index].save(numbered / f"{index}.png")  # another card where a pattern would look
        images.append(literal / f"{index}.png")
    output = tmp_path / "out.mp4"
    run_ffmpeg(
        encode_command(plan, images, output),
        planned_seconds=plan.duration,
        progress=lambda _: None,
        deadline=time.monotonic() + 120,
    )
    middle = plan.slots[0].frames // 2
    frame = frames_at(output, [middle])[middle]
    assert mean_difference(frame, cards[0]) < SAME_CARD
