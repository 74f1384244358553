"""The cards drawn alone: letters with accents, emoji in colour (no tofu box), colours, both languages."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from PIL import Image, ImageChops, ImageDraw

from media.video.cards import github_repo, poc_card, stats_card, title_card
from media.video.colors import language_color
from media.video.fonts import Run, Style, draw_text, missing_glyphs, runs, text_width
from tests.media.video.conftest import poc, spec

NOT_IN_ANY_FONT = "漢"  # neither font has it: it is drawn as the .notdef box (the "tofu")


def _alone(text: str, size: int = 64) -> Image.Image:
    image = Image.new("RGB", (900, 140), (15, 23, 42))
    draw_text(ImageDraw.Draw(image), (10, 100), text, Style(size), (248, 250, 252))
    return image


def _saturated(image: Image.Image) -> int:
    """Pixels of strong colour (the cards' ink is white/grey on a dark blue-grey background)."""
    return sum(
        1 for red, green, blue in image.get_flattened_data() if max(red, green, blue) - min(red, green, blue) > 90
    )


def test_names_with_accents_and_emoji_have_a_glyph_for_every_character() -> None:
    assert missing_glyphs("Ana Conceição, João, Łukasz, Ñandú, Østergård, Ærøskøbing, Çağrı") == set()
    assert missing_glyphs("Editor 🚀🎉 👩🏽‍💻 🇧🇷 ❤️") == set()
    assert missing_glyphs("漢字 ok") == {"漢", "字"}  # the check can fail


def test_letters_and_emoji_are_cut_into_runs_and_a_zwj_sequence_stays_whole() -> None:
    assert runs("Olá 👩🏽‍💻 mundo") == [Run("Olá ", False), Run("👩🏽‍💻", True), Run(" mundo", False)]
    assert runs("C# ❤️") == [Run("C# ", False), Run("❤️", True)]
    # Shaped as one glyph (woman technologist, medium skin tone), not four side by side.
    assert text_width("👩🏽‍💻", Style(64)) < 1.5 * text_width("🚀", Style(64))


def test_accented_letters_are_drawn_not_boxed() -> None:
    plain, accented = _alone("Conceicao"), _alone("Conceição")
    assert ImageChops.difference(plain, accented).getbbox() is not None
    for letter in "çãÇÃéÉłŁ":
        assert ImageChops.difference(_alone(letter), _alone(NOT_IN_ANY_FONT)).getbbox() is not None, letter


def test_an_emoji_in_a_name_is_drawn_in_colour_where_it_stands_and_is_no_tofu_box() -> None:
    video_spec = spec()
    row = poc(0, days_ago=5, name="Editor")
    without = poc_card(video_spec, row, 1, 1).image
    with_emoji = poc_card(video_spec, replace(row, name="Editor 🚀"), 1, 1).image
    with_tofu = poc_card(video_spec, replace(row, name=f"Editor {NOT_IN_ANY_FONT}"), 1, 1).image

    changed = ImageChops.difference(without, with_emoji).getbbox()
    assert changed is not None
    left, top, right, bottom = changed
    name_end = 100 + text_width("Editor", Style(64, bold=True))
    assert name_end <= left and right < name_end + 120 and top > 120 and bottom < 230  # on the name's line
    emoji_area = with_emoji.crop(changed)
    assert _saturated(emoji_area) > 300  # OpenMoji's red rocket, drawn in its colours
    assert _saturated(with_tofu.crop(changed)) == 0  # a tofu box would be drawn in the ink colour
    assert ImageChops.difference(with_tofu, with_emoji).getbbox() is not None


def test_a_poc_card_shows_its_language_in_its_colour() -> None:
    assert language_color("Python") == (0x35, 0x72, 0xA5)
    assert language_color("Gleam") == language_color("Gleam") != language_color("Nim")
    image = poc_card(spec(), poc(0, days_ago=5, language="Python"), 1, 1).image
    assert image.getpixel((10, 360)) == (0x35, 0x72, 0xA5)  # the bar down the left edge


@pytest.mark.parametrize(
    ("locale", "title", "count"),
    [("pt-BR", "Seu ano em POCs", "3 POCs"), ("en", "Your year in POCs", "3 POCs")],
)
def test_the_title_card_speaks_the_locale(locale: str, title: str, count: str) -> None:
    card = title_card(spec(locale=locale), 3)
    assert card.lines[0] == title and card.lines[-1] == count
    assert card.lines[1] == "Ana Conceição"


def test_dates_are_written_per_locale() -> None:
    row = poc(0, days_ago=5)  # 2026-11-15 in São Paulo
    assert "Criado em 15/11/2026" in poc_card(spec(), row, 1, 1).lines
    assert "Created Nov 15, 2026" in poc_card(spec(locale="en"), row, 1, 1).lines


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/ana/editor", "ana/editor"),
        ("https://github.com/ana/editor.git", "ana/editor"),
        ("https://github.com/ana/editor/tree/main/src", "ana/editor"),
        ("https://gitlab.com/ana/editor", "gitlab.com/ana/editor"),
    ],
)
def test_the_repository_is_shown_as_owner_and_name(url: str, repo: str) -> None:
    assert github_repo(url) == repo


def test_the_statistics_count_every_poc_per_language_and_per_month() -> None:
    languages = ["Python", "Python", "Python", "Go", "Go", "Rust", "Zig", "Nim", "Odin", "Gleam"]
    rows = [poc(index, days_ago=2 + 31 * (index % 3), language=language) for index, language in enumerate(languages)]
    lines = stats_card(spec(locale="en"), rows).lines
    assert lines[:5] == ("By the numbers", "POCs per language", "Python: 3", "Go: 2", "Gleam: 1")
    assert "+ 1 POC in other languages" in lines  # six bars, the seventh language summed up
    months = [line for line in lines if line[:3] in {"Sep", "Oct", "Nov", "Dec"} and line[3] == " "]
    assert months == ["Nov 2025: 0", "Dec 2025: 0", "Sep 2026: 3", "Oct 2026: 3", "Nov 2026: 4"]


def test_cards_drawn_in_several_threads_at_once_are_the_cards_drawn_alone() -> None:
    video_spec = spec()
    row = poc(0, days_ago=5, name="Conceição 🚀 editor")
    expected = poc_card(video_spec, row, 1, 1).image.tobytes()
    start = threading.Barrier(4)

    def draw() -> bytes:
        start.wait()
        return b"".join(poc_card(video_spec, row, 1, 1).image.tobytes() for _ in range(3))

    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(pool.map(lambda _: draw(), range(4)))
    assert all(images == expected * 3 for images in drawn)
