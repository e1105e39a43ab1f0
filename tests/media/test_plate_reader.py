"""The plate reader on synthetic phone frames: what the console would propose, or not."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from kuaichu.errors import MediaError
from kuaichu.media.plate_reader import PlateReader, PlateReading
from sim import plates_other
from sim.plates import (
    plate_on_plain_frame,
    random_plate,
    render_labelled,
    render_no_plate,
    render_plate,
    render_scene,
    render_sign,
    scene_frames,
)
from sim.turned import turned_scene


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    plate_reader = PlateReader()
    plate_reader.warm_up()
    return plate_reader


def box_covers(box: tuple[int, int, int, int], corners: np.ndarray) -> bool:
    """The reading's box lies on the plate: its centre inside the plate's bounding box."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    return bool(
        corners[:, 0].min() <= cx <= corners[:, 0].max()
        and corners[:, 1].min() <= cy <= corners[:, 1].max()
    )


@pytest.mark.parametrize(
    ("text", "colour", "display"),
    [
        ("京A12345", "blue", "京A·12345"),
        ("鲁B6Z219", "blue", "鲁B·6Z219"),
        ("苏E2X790", "yellow", "苏E·2X790"),
        ("粤BD12345", "green", "粤B·D12345"),
        ("川AF70935", "green", "川A·F70935"),
    ],
)
def test_reads_each_colour_exactly(
    reader: PlateReader, text: str, colour: str, display: str
) -> None:
    frame, corners = render_labelled(text, colour, np.random.default_rng(11), difficulty="easy")
    readings = reader.read(frame)
    assert readings, "nothing read"
    best = readings[0]
    assert isinstance(best, PlateReading)
    assert (best.plate, best.display, best.colour) == (text, display, colour)
    assert 0.5 < best.confidence <= 1.0
    assert box_covers(best.box, corners)


def test_reads_a_distant_plate_at_dusk_after_a_video_call(reader: PlateReader) -> None:
    # Seed 7 at "hard": the plate 94 px wide, dusk, 4 px of motion blur, H.264 at qp 32.
    frame = render_scene("浙C8K261", "blue", np.random.default_rng(7), difficulty="hard")
    assert [r.plate for r in reader.read(frame)][:1] == ["浙C8K261"]


def test_frame_without_a_plate_gives_nothing(reader: PlateReader) -> None:
    for seed in (1, 2):
        frame = render_no_plate(np.random.default_rng(seed), sign=False)
        assert reader.read(frame) == []
    # A plate-blue rectangle of plate shape with nothing written on it.
    blank = np.zeros((720, 1280, 3), np.uint8)
    blank[300:400, 400:720] = (18, 64, 168)
    assert reader.read(blank) == []
    assert reader.read(np.zeros((240, 320, 3), np.uint8)) == []


def test_reads_a_phone_photo_larger_than_video(reader: PlateReader) -> None:
    frame, corners = render_labelled(
        "黑L83212", "blue", np.random.default_rng(12), size=(4000, 3000), difficulty="easy"
    )
    readings = reader.read(frame)
    assert [r.plate for r in readings][:1] == ["黑L83212"]
    assert box_covers(readings[0].box, corners)


@pytest.mark.parametrize(
    ("words", "colour"),
    [
        ("人民路", "blue"),
        ("前方学校 减速慢行", "blue"),
        ("收费站 2km", "green"),
        ("出口 500m", "blue"),
    ],
)
def test_chinese_road_sign_is_not_proposed(reader: PlateReader, words: str, colour: str) -> None:
    """Plate-blue (or green), plate-shaped, white text, two of them with digits: not a plate."""
    frame = render_sign(words, np.random.default_rng(5), colour=colour)
    assert reader.read(frame) == []


def test_sign_badge_and_sticker_around_a_plate_only_the_plate_is_proposed(
    reader: PlateReader,
) -> None:
    proposals: list[str] = []
    for seed in range(4):
        frame = render_no_plate(np.random.default_rng(100 + seed), difficulty="easy", sign=True)
        proposals += [r.display for r in reader.read(frame)]
    assert proposals == []


def test_look_alike_letters_in_the_serial_come_out_as_digits(reader: PlateReader) -> None:
    """A serial never holds I or O (GA 36): a plate printed (or worn) so that they show is
    proposed with 1 and 0, as normalise_plate spells it."""
    frame = render_scene("豫A1O3I8", "blue", np.random.default_rng(3), difficulty="easy")
    readings = reader.read(frame)
    assert [(r.plate, r.display) for r in readings][:1] == [("豫A10318", "豫A·10318")]


def test_reads_from_a_stored_jpeg(reader: PlateReader, tmp_path: Path) -> None:
    frame = render_scene("闽D5P332", "yellow", np.random.default_rng(4), difficulty="easy")
    path = tmp_path / "plate.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert [r.plate for r in reader.read_file(path)][:1] == ["闽D5P332"]


def test_models_load_once_when_two_threads_read_first(tmp_path: Path) -> None:
    fresh = PlateReader()
    frame = render_scene("湘K77358", "blue", np.random.default_rng(6), difficulty="easy")
    results: list[list[str]] = []

    def work() -> None:
        results.append([r.plate for r in fresh.read(frame)])

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [["湘K77358"], ["湘K77358"]]


def test_rejects_what_is_not_an_rgb_frame(reader: PlateReader) -> None:
    with pytest.raises(MediaError):
        reader.read(np.zeros((720, 1280), np.uint8))
    with pytest.raises(MediaError):
        reader.read(np.zeros((720, 1280, 3), np.float32))


def test_generator_is_deterministic_for_a_seed() -> None:
    plates = [random_plate(np.random.default_rng(9)) for _ in range(2)]
    assert plates[0] == plates[1]
    a = render_scene("京A12345", "blue", np.random.default_rng(9), difficulty="hard")
    b = render_scene("京A12345", "blue", np.random.default_rng(9), difficulty="hard")
    c = render_scene("京A12345", "blue", np.random.default_rng(10), difficulty="hard")
    assert a.shape == (720, 1280, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    first = list(scene_frames("粤BD12345", "green", seed=3, n=3))
    again = list(scene_frames("粤BD12345", "green", seed=3, n=3))
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))


def test_random_plates_cover_provinces_colours_and_formats() -> None:
    rng = np.random.default_rng(0)
    plates = [random_plate(rng) for _ in range(400)]
    assert {colour for _, colour in plates} == {"blue", "yellow", "green"}
    assert len({text[0] for text, _ in plates}) >= 25
    for text, colour in plates:
        assert len(text) == (8 if colour == "green" else 7)
        assert not set(text[2:]) & set("IO")


def test_hand_held_frames_move_and_stay_readable(reader: PlateReader) -> None:
    frames = list(scene_frames("晋A9T516", "blue", seed=8, n=4))
    assert len(frames) == 4
    assert all(f.shape == (720, 1280, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[1])
    assert [r.plate for r in reader.read(frames[0])][:1] == ["晋A9T516"]


# ---- issue 11: generalising beyond the first generator, saying when unsure ----------------


@pytest.mark.parametrize("face", range(6))
def test_reads_plates_drawn_in_other_chinese_faces(reader: PlateReader, face: int) -> None:
    """The second generator (sim/plates_other.py): the province in WenQuanYi Zen Hei, Noto
    Serif CJK (bold, regular), AR PL UMing, AR PL UKai or Droid Sans Fallback, the letters in
    a condensed Latin face, dirt, bolts, a holder; the reader was never tuned on any of them."""
    faces = plates_other.cjk_faces()
    if face >= len(faces):
        pytest.fail(
            f"only {len(faces)} of the second generator's CJK faces are installed: run "
            "scripts/test (it installs fonts-wqy-zenhei, fonts-noto-cjk, fonts-arphic-uming, "
            "fonts-arphic-ukai, fonts-droid-fallback)"
        )
    for seed in range(2):
        rng = np.random.default_rng([77, face, seed])
        text, colour = plates_other.random_plate(rng)
        frame = plates_other.render_scene(text, colour, rng, difficulty="easy", cjk_face=face)
        readings = reader.read(frame)
        assert [(r.plate, r.sure) for r in readings][:1] == [(text, True)], faces[face]


def test_the_generators_plate_width_moves_the_plate_and_nothing_else() -> None:
    """benchmarks/plate_difficulty.py compares scenes at other plate widths: given the
    difficulty's own range, ``plate_px`` draws the same scene (both generators); given a
    larger one, the plate grows and the car around it stays."""
    rng = np.random.default_rng([1, 14])
    text, colour = random_plate(rng)
    own = [
        render_scene(text, colour, np.random.default_rng([1, 14, 0]), difficulty="hard",
                     plate_px=plate_px)
        for plate_px in (None, (85, 150), (220, 300))
    ]  # fmt: skip
    assert np.array_equal(own[0], own[1])
    assert not np.array_equal(own[0], own[2])

    def scene(plate_px: tuple[float, float] | None) -> np.ndarray:
        rng = np.random.default_rng([1, 15])
        text, colour = plates_other.random_plate(rng)
        frame, _ = plates_other.render_scene_face(
            text, colour, rng, difficulty="hard", cjk_face=0, plate_px=plate_px
        )
        return frame

    default = scene(None)
    assert np.array_equal(scene((90, 150)), default)
    larger = scene((220, 300))
    changed = np.abs(larger.astype(np.int16) - default.astype(np.int16)).max(axis=2) > 40
    ys, xs = np.nonzero(changed)
    # What changed is about the plate: a region a few plates wide, not the whole frame.
    assert 0 < np.ptp(xs) < 500 and 0 < np.ptp(ys) < 250


def test_an_illegible_province_is_offered_as_unsure_with_alternatives(
    reader: PlateReader,
) -> None:
    """A distant new-energy plate whose 黑 is a blob of a few pixels (the recogniser's views and
    the province net disagree): the serial is read, the province is a guess and the reading
    says so, instead of proposing a wrong plate as read."""
    rng = np.random.default_rng([1, 44])
    text, colour = random_plate(rng)
    assert (text, colour) == ("黑KB94295", "green")
    frame = render_scene(text, colour, rng, difficulty="hard")
    [best] = reader.read(frame)[:1]
    assert best.plate[1:] == text[1:]
    assert not best.sure and best.confidence < 0.5
    assert len(best.alternatives) >= 1
    assert all(alt[1:] == "K·B94295" for alt in best.alternatives), best.alternatives


def test_a_small_plate_in_a_face_never_seen_is_never_proposed_with_a_wrong_province(
    reader: PlateReader,
) -> None:
    """Hard scenes of the second generator (plates 90-150 px wide, half of them a 480p call
    blown up, JPEG 18-40, a third at night), seeds outside the benchmark's, provinces in faces
    neither the recogniser nor the province net (trained on Noto Sans CJK alone) was tuned on.
    Without the net the reader proposed 新X·188XV as sure for 浙X188XV here and read 3 of the 12
    provinces; with it, what is proposed is right, and more are read (4 of 12 on this
    machine: these are the hardest plates of either set, see docs/benchmarks.md)."""
    right = 0
    for seed in range(12):
        rng = np.random.default_rng([91, seed])
        text, colour = plates_other.random_plate(rng)
        frame = plates_other.render_scene(text, colour, rng, difficulty="hard")
        best = reader.read(frame)[:1]
        right += bool(best) and best[0].plate == text
        assert all(r.plate == text for r in best if r.sure), (text, best)
    assert right >= 4


def test_a_blue_plate_on_a_car_of_the_same_blue_is_found_by_its_strokes(
    reader: PlateReader,
) -> None:
    """The colour mask sees one blue blob the size of the car, not a plate: the edge stage
    finds the row of characters."""
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:] = (18, 64, 168)  # the plate's own blue, everywhere
    plate = cv2.resize(render_plate("苏E2X790", "blue"), (330, 105), interpolation=cv2.INTER_AREA)
    frame[380:485, 500:830] = plate
    noisy = frame.astype(np.float32) + np.random.default_rng(1).normal(0, 2.0, frame.shape)
    frame = np.clip(noisy, 0, 255).astype(np.uint8)
    readings = reader.read(frame)
    assert [(r.plate, r.sure) for r in readings][:1] == [("苏E2X790", True)]
    x, y, w, h = readings[0].box
    assert 450 < x + w / 2 < 880 and 330 < y + h / 2 < 535


def test_the_patrols_quick_read_never_runs_the_detector(
    reader: PlateReader, detector_regions: list[tuple[int, int, int, int] | None]
) -> None:
    """The patrol reads frames nobody asked for: its cost stays the cheap stages', however
    the machine is loaded; a capture (not quick) goes on to the detector when they read
    nothing, over the whole frame."""
    frame = render_no_plate(np.random.default_rng(7), difficulty="easy", sign=False)
    assert not any(r.sure for r in reader.read(frame, quick=True))
    assert detector_regions == []
    reader.read(frame)
    assert detector_regions and detector_regions[-1] is None


def _plate_in_frame(
    plate: np.ndarray, corners: np.ndarray, background: tuple[int, int, int]
) -> np.ndarray:
    """A 1280x720 frame of one colour with ``plate`` warped onto the four corners."""
    return plate_on_plain_frame(plate, corners, background, np.random.default_rng(3))


def _colour_stage_finds(frame: np.ndarray, colour: str, corners: np.ndarray) -> bool:
    from kuaichu.media.plate_reader.candidates import colour_candidates

    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    return any(
        c.hint == colour and box_covers(cv2.boundingRect(c.quad.astype(np.int32)), corners)
        for c in colour_candidates(bgr)
    )


def test_a_plate_seen_from_the_side_is_found_by_its_colour(reader: PlateReader) -> None:
    """Seen from the side, a plate is a parallelogram (on real photos, ragged at the holder,
    filling half its bounding rectangle): the cheap colour stage still finds it, and the plate
    is read."""
    # Foreshortened to a third, top and bottom climbing 35 degrees, sides upright.
    corners = np.array([(500, 470), (620, 386), (620, 466), (500, 550)], np.float64)
    frame = _plate_in_frame(render_plate("川A019W2", "blue"), corners, (235, 235, 230))
    assert _colour_stage_finds(frame, "blue", corners)
    assert [r.plate for r in reader.read(frame)][:1] == ["川A019W2"]


def test_a_yellow_plate_in_the_dusk_is_found_by_its_colour(reader: PlateReader) -> None:
    """At dusk a yellow plate is a dark ochre (value ~50 of 255): still yellow to the colour
    stage, and the plate is read."""
    plate = (render_plate("粤A82349", "yellow").astype(np.float32) * 0.25).astype(np.uint8)
    corners = np.array([(560, 400), (720, 400), (720, 451), (560, 451)], np.float64)
    frame = _plate_in_frame(plate, corners, (40, 40, 45))
    assert _colour_stage_finds(frame, "yellow", corners)
    assert [r.plate for r in reader.read(frame)][:1] == ["粤A82349"]


def test_only_strips_showing_strokes_go_to_the_recogniser() -> None:
    """The recogniser is the dear part of a frame that holds no plate: a strip of paintwork
    or of a lamp is left out, a plate's strip, however dim, is read."""
    from kuaichu.media.plate_reader.recognition import has_strokes

    rng = np.random.default_rng(5)

    def strip(rgb: np.ndarray) -> np.ndarray:
        noisy = cv2.resize(rgb, (219, 48), interpolation=cv2.INTER_AREA).astype(np.float32)
        noisy += rng.normal(0, 2.0, noisy.shape)
        return cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)

    plate = render_plate("苏E2X790", "yellow")
    assert has_strokes(strip(plate))
    assert has_strokes(strip((plate.astype(np.float32) * 0.2).astype(np.uint8)))
    paint = np.empty_like(plate)
    paint[:] = (200, 200, 205)
    assert not has_strokes(strip(paint))
    # A lamp: a bright disc with a soft edge.
    lamp = np.zeros(plate.shape[:2], np.float32)
    cv2.circle(lamp, (220, 70), 60, 1.0, -1)
    lamp = cv2.GaussianBlur(lamp, (0, 0), 15)
    assert not has_strokes(strip((np.dstack([lamp] * 3) * 230 + 20).astype(np.uint8)))


def test_a_detector_box_on_part_of_a_plate_is_widened_about_its_centre() -> None:
    """A dark plate's ends fade into it and the detector boxes its middle characters: the
    box tried next reaches further both ways, along the plate's own slant, as high."""
    from kuaichu.media.plate_reader.candidates import Candidate
    from kuaichu.media.plate_reader.detector import WIDEN, widened

    quad = np.array([(100, 200), (200, 190), (202, 230), (102, 240)], np.float32)
    wider = widened(Candidate(quad, None, "det")).quad
    assert np.allclose(wider.mean(axis=0), quad.mean(axis=0))
    top = np.linalg.norm(wider[1] - wider[0]) / np.linalg.norm(quad[1] - quad[0])
    assert abs(top - WIDEN) < 1e-3
    (ax, ay), (bx, by) = wider[1] - wider[0], quad[1] - quad[0]
    assert abs(ax * by - ay * bx) < 1e-2  # the same slant
    assert np.allclose(wider[3] - wider[0], quad[3] - quad[0], atol=1e-3)


def test_a_plate_cut_by_the_frames_edge_is_not_proposed_as_sure(reader: PlateReader) -> None:
    """A car half in the picture: its plate's province is beyond the frame's left edge. The
    serial is there to read, but the province was never seen: not a sure reading."""
    corners = np.array([(-35, 400), (270, 400), (270, 505), (-35, 505)], np.float64)
    frame = _plate_in_frame(render_plate("粤B450LJ", "blue"), corners, (235, 235, 230))
    readings = reader.read(frame)
    assert readings and readings[0].plate.endswith("B450LJ")
    assert not any(r.sure for r in readings)
    # The same plate whole in the frame is sure.
    moved = corners + np.array([200.0, 0.0])
    whole = _plate_in_frame(render_plate("粤B450LJ", "blue"), moved, (235, 235, 230))
    assert [(r.plate, r.sure) for r in reader.read(whole)][:1] == [("粤B450LJ", True)]


def _two_row_plate(text: str) -> np.ndarray:
    """A yellow two-row plate (GA 36's rear plate of a lorry or a bus, 440x220 mm at 1 px per
    mm): the province and the letter above, 60 mm high and wide, the serial below, 110 mm
    high; both rows drawn from the generator's one-row plate of the same text."""
    one = render_plate(text, "yellow")
    plate = np.empty((220, 440, 3), np.uint8)
    plate[:] = one[5, 5]
    head = cv2.resize(one[20:120, 10:123], (230, 62), interpolation=cv2.INTER_AREA)
    serial = cv2.resize(one[20:120, 146:430], (410, 118), interpolation=cv2.INTER_AREA)
    plate[12:74, 105:335] = head
    plate[86:204, 15:425] = serial
    return plate


@pytest.mark.parametrize(("text", "corners"), [
    ("粤AB2893", [(520, 380), (740, 380), (740, 490), (520, 490)]),
    # Seen from below and a little to the side, as a car's camera sees the bus ahead.
    ("豫UK9331", [(420, 300), (680, 318), (676, 440), (416, 446)]),
])  # fmt: skip
def test_a_two_row_plate_of_a_lorry_or_bus_is_read_as_one_plate(
    reader: PlateReader, text: str, corners: list[tuple[int, int]]
) -> None:
    """Lorries and buses carry a two-row yellow plate at the rear: the province and letter
    above the serial. Read as one plate, the rows in order."""
    quad = np.array(corners, np.float64)
    frame = _plate_in_frame(_two_row_plate(text), quad, (225, 225, 220))
    readings = reader.read(frame)
    assert [(r.plate, r.colour, r.sure) for r in readings][:1] == [(text, "yellow", True)]
    assert box_covers(readings[0].box, quad)


def test_a_plate_whose_province_breaks_its_background_is_read_whole(
    reader: PlateReader,
) -> None:
    """A dense province (湘, 鄂) in a close plate's bold face leaves little blue at the plate's
    left end, and the blue blob the colour stage finds starts at the authority letter: the
    plate is still read whole, province included, without the detector (the patrol's read)."""
    plate = render_plate("湘AT3597", "blue")
    # The left end grey with grime (its blue no longer plate blue), the province white on it.
    plate[:, :66] = cv2.cvtColor(cv2.cvtColor(plate[:, :66], cv2.COLOR_RGB2GRAY),
                                 cv2.COLOR_GRAY2RGB)  # fmt: skip
    corners = np.array([(460, 380), (790, 380), (790, 485), (460, 485)], np.float64)
    frame = _plate_in_frame(plate, corners, (235, 235, 230))
    assert [(r.plate, r.sure) for r in reader.read(frame, quick=True)][:1] == [("湘AT3597", True)]


def test_a_plate_reads_the_same_whatever_else_is_in_the_frame(reader: PlateReader) -> None:
    """Two cars: the blue plate's reading (and its confidence) is the same with the green
    plate beside it as alone, and both are read."""
    blue = np.array([(200, 400), (530, 400), (530, 505), (200, 505)], np.float64)
    green = np.array([(760, 380), (1120, 380), (1120, 485), (760, 485)], np.float64)
    alone = _plate_in_frame(render_plate("鲁B6Z219", "blue"), blue, (235, 235, 230))
    other = _plate_in_frame(render_plate("粤BD12345", "green"), green, (235, 235, 230))
    both = alone.copy()
    both[:, 640:] = other[:, 640:]
    first = {r.plate: r.confidence for r in reader.read(alone)}
    second = {r.plate: r.confidence for r in reader.read(both)}
    assert set(second) == {"鲁B6Z219", "粤BD12345"}
    assert second["鲁B6Z219"] == first["鲁B6Z219"]


def test_a_condensed_j_the_recogniser_reads_as_liao_is_read_as_j(reader: PlateReader) -> None:
    """A close, clear plate of the second generator whose authority letter J, in a condensed
    face, the recogniser prints as 了: the grammar's J, not "no plate"."""
    rng = np.random.default_rng([1, 26])
    text, colour = plates_other.random_plate(rng)
    assert (text, colour) == ("辽J29517", "blue")
    frame = plates_other.render_scene(text, colour, rng, difficulty="easy")
    assert [(r.plate, r.sure) for r in reader.read(frame)][:1] == [(text, True)]


def test_a_reading_with_a_second_province_in_its_strip_is_not_proposed_as_sure() -> None:
    """A detector box over a plate and the "新手上路" sticker beside it reads both; the grammar
    then takes the sticker's 新 for the province (the second generator's easy #60, 黑T327H9,
    came out as 新T3327H at 0.96). Offered as unsure, never proposed; the plate read alone is."""
    from kuaichu.media.plate_reader.acceptance import accept
    from kuaichu.media.plate_reader.grammar import PROVINCE_CHARS
    from kuaichu.media.plate_reader.recognition import Decoded

    quad = np.array([(100, 100), (400, 100), (400, 200), (100, 200)], np.float32)

    def reading(free: str, text: str) -> PlateReading | None:
        posterior = np.full(len(PROVINCE_CHARS), 1e-4, np.float32)
        posterior[PROVINCE_CHARS.index(text[0])] = 1.0
        posterior /= posterior.sum()
        found = Decoded(text, (1.0, 0.98, 0.99, 0.99, 1.0, 1.0, 1.0), 0.0, free, posterior,
                        (("", 0.0),) * 7)  # fmt: skip
        return accept(found, posterior, 1.0, "blue", quad)

    merged = reading("新手上路请多黑T·327H9", "新T3327H")
    assert merged is not None and not merged.sure
    alone = reading("黑T·327H9", "黑T327H9")
    assert alone is not None and alone.sure


def test_a_character_run_is_never_cut_in_two_to_fill_the_plate(reader: PlateReader) -> None:
    """A crop that lost the plate's last character (the recogniser saw 赣Y·0189 of 赣Y·01892)
    has one character too few for any plate: the grammar filled it by cutting the run of 1s
    in two, and the console got 赣Y·01189 proposed as sure at 0.99 (benchmarks/
    capture_latency.py, 2026-12-02). CTC writes a double character with a blank between its
    runs; a run cut without one is no evidence of a second character."""
    from kuaichu.media.plate_reader.recognition import decode

    models = reader._load()
    index = {c: i for i, c in enumerate(models.alphabet)}
    runs = [("赣", 3), ("", 1), ("Y", 2), ("", 2), ("0", 2), ("", 1), ("1", 4), ("", 1)]
    runs += [("8", 2), ("", 1), ("9", 2), ("", 2)]
    frames = [c for c, n in runs for _ in range(n)]
    probs = np.full((len(frames), len(models.alphabet)), 0.02 / len(models.alphabet), np.float32)
    for t, c in enumerate(frames):
        probs[t, index[c] if c else 0] += 0.98
    found = decode(models, probs, "yellow")
    assert found is not None and found.free == "赣Y0189"
    # Seven characters where six were seen: the one made up is not sure.
    assert len(found.text) == 7 and min(found.char_conf) < 0.5, (found.text, found.char_conf)


def test_two_different_characters_side_by_side_are_never_one_position(
    reader: PlateReader,
) -> None:
    """A new-energy plate in glare, its band judged yellow: the recogniser saw all eight of
    皖K·DP6758, the 7 and the 5 in neighbouring frames with no blank between (the second
    generator's hard scene #57 of seed 3, 150-220 px wide). The grammar's alignment summed a
    position over every digit it allows, so "75" fitted one digit at no cost and the plate
    came out as a blue plate's seven, 皖K·DP678. Each position now shows one character."""
    from kuaichu.media.plate_reader.recognition import decode

    models = reader._load()
    index = {c: i for i, c in enumerate(models.alphabet)}
    runs = [("", 2), ("皖", 2), ("K", 1), ("", 1), ("·", 1), ("", 1), ("D", 1), ("", 1)]
    runs += [("P", 1), ("", 1), ("6", 1), ("", 1), ("7", 1), ("5", 1), ("", 1), ("8", 1)]
    runs += [("", 2)]
    frames = [c for c, n in runs for _ in range(n)]
    probs = np.full((len(frames), len(models.alphabet)), 1e-3 / len(models.alphabet), np.float32)
    for t, c in enumerate(frames):
        probs[t, index[c] if c else 0] += 0.999
    for colour in ("yellow", "blue", "green"):
        found = decode(models, probs, colour)
        assert found is not None and found.free == "皖K·DP6758"
        assert found.text == "皖KDP6758", (colour, found.text)
        assert min(found.char_conf) > 0.9, found.char_conf


@pytest.mark.parametrize(
    ("text", "drawing"),
    [("京RFW0757", "own"), ("粤BD12345", "own"), ("沪AF61230", "own"), ("沪AF61230", "other")],
)
def test_a_new_energy_plate_filmed_from_the_side_is_read_to_its_eighth_character(
    reader: PlateReader, text: str, drawing: str
) -> None:
    """A driver filming the car beside them from close up: the plate's near end half again as
    high as its far end. The candidates' rectangles (and a green plate's extrapolated top) put
    the grid too short, and the eighth character fell outside it: the plate was proposed as
    sure with seven, a blue plate's count, or its six-character serial alone was taken for a
    blue plate's letter and five ("云F61230"). Read whole, and nothing else proposed."""
    corners = np.array([(420, 350), (630, 322), (630, 410), (420, 408)], np.float64)
    if drawing == "own":
        plate = render_plate(text, "green")
    else:  # the second generator's drawing, in its holder
        rgba = plates_other.draw_plate(text, "green", np.random.default_rng(5), cjk_face=0)
        plate = np.ascontiguousarray(rgba[..., :3])
    frame = _plate_in_frame(plate, corners, (60, 60, 70))
    ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok
    frame = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    readings = reader.read(frame)
    assert [(r.plate, r.colour, r.sure) for r in readings][:1] == [(text, "green", True)]
    assert not [r.plate for r in readings if r.sure and r.plate != text]


def test_an_unsure_reading_always_offers_what_else_it_may_be() -> None:
    """A reading is unsure when no single alternative stands out too: a province no view saw
    clearly (the views agree on a blur, so the posterior still favours one character), or a
    serial character read weakly whose runner-up is weaker still. Such a reading used to come
    with no alternatives (川Z·22635 for 川P22635 through a real call), and the console had no
    button to offer. The officer gets the next provinces in the posterior's order, up to five,
    or the weak character's runner-up."""
    from kuaichu.media.plate_reader.acceptance import MAX_ALTERNATIVES, accept
    from kuaichu.media.plate_reader.grammar import PROVINCE_CHARS
    from kuaichu.media.plate_reader.recognition import Decoded

    quad = np.array([(100, 100), (400, 100), (400, 200), (100, 200)], np.float32)
    posterior = np.full(len(PROVINCE_CHARS), 1e-6, np.float32)
    for ch, p in (
        ("川", 0.99),
        ("鄂", 3e-3),
        ("湘", 2e-3),
        ("甘", 1e-3),
        ("黑", 5e-4),
        ("辽", 2e-4),
    ):
        posterior[PROVINCE_CHARS.index(ch)] = p
    posterior /= posterior.sum()
    sure_chars = (1.0, 0.99, 0.99, 0.98, 1.0, 1.0, 0.99)

    def reading(
        conf: tuple[float, ...], seen: float, runners: tuple[tuple[str, float], ...]
    ) -> PlateReading:
        found = Decoded("川A22635", conf, 0.0, "川A·22635", posterior, runners)
        r = accept(found, posterior, seen, "blue", quad)
        assert r is not None
        return r

    unseen = reading(sure_chars, 0.02, (("", 0.0),) * 7)
    assert not unseen.sure
    assert MAX_ALTERNATIVES == 5
    assert unseen.alternatives == ("鄂A·22635", "湘A·22635", "甘A·22635", "黑A·22635", "辽A·22635")

    weak_digit = (1.0, 0.99, 0.99, 0.5, 1.0, 1.0, 0.99)
    runners = (("", 0.0),) * 3 + (("8", 0.02),) + (("", 0.0),) * 3
    doubt = reading(weak_digit, 1.0, runners)
    assert not doubt.sure
    assert doubt.alternatives == ("川A·28635",)

    # A province runner-up that stands out does not hide the weak letter's second choice
    # (川P22635 read 川Z·22635 through a call was offered with 沪Z·22635 alone).
    posterior[PROVINCE_CHARS.index("沪")] = 0.2
    weak_letter = (1.0, 0.5, 0.99, 0.98, 1.0, 1.0, 0.99)
    letter_runner = (("", 0.0), ("P", 0.03)) + (("", 0.0),) * 5
    both = reading(weak_letter, 1.0, letter_runner)
    assert not both.sure
    assert both.alternatives == ("沪A·22635", "川P·22635")


def _own_hard_scene(index: int) -> tuple[str, np.ndarray, np.ndarray]:
    """The benchmark's own-generator scene ``index`` of seed 1 (a hard one when index % 3
    == 2): its plate, frame and plate corners."""
    from sim.plates import DIFFICULTIES

    rng = np.random.default_rng([1, index])
    text, colour = random_plate(rng)
    frame, corners = render_labelled(text, colour, rng, difficulty=DIFFICULTIES[index % 3])
    return text, frame, corners


@pytest.fixture
def detector_regions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int, int] | None]:
    """The region of each of the detector's passes (None: the whole frame), in order."""
    from kuaichu.media.plate_reader import detector

    regions: list[tuple[int, int, int, int] | None] = []
    real = detector.det_candidates

    def recorded(det: object, bgr: np.ndarray, region: object = None) -> object:
        regions.append(region)  # type: ignore[arg-type]
        return real(det, bgr, region)  # type: ignore[arg-type]

    monkeypatch.setattr(detector, "det_candidates", recorded)
    return regions


def test_an_unsure_small_plate_is_looked_at_again_by_the_detector_around_it_only(
    reader: PlateReader, detector_regions: list[tuple[int, int, int, int] | None]
) -> None:
    """A small plate read with its province unsure: the detector searches the region around
    that reading, not the whole frame (a fifth of the cost), and what it finds there makes
    the reading sure."""
    regions = detector_regions
    text, frame, corners = _own_hard_scene(65)
    assert not any(r.sure for r in reader.read(frame, quick=True))  # the cheap stages: unsure
    readings = reader.read(frame)
    assert [(r.plate, r.sure) for r in readings][:1] == [(text, True)]
    assert len(regions) == 1 and regions[0] is not None
    x, y, w, h = regions[0]
    assert x <= corners[:, 0].min() and corners[:, 0].max() <= x + w
    assert y <= corners[:, 1].min() and corners[:, 1].max() <= y + h
    assert w * h < frame.shape[0] * frame.shape[1] / 5


def test_when_nothing_is_found_around_the_unsure_reading_the_whole_frame_is_searched(
    reader: PlateReader,
    detector_regions: list[tuple[int, int, int, int] | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unsure reading was a sign or a badge, the plate elsewhere: the region around it
    shows no plate, and the detector then searches the whole frame, as before."""
    from kuaichu.media.plate_reader import reader as reader_module

    # As if the unsure reading lay in the frame's empty top-left corner.
    monkeypatch.setattr(reader_module, "detector_region", lambda *_: (0, 0, 200, 120))
    text, frame, _ = _own_hard_scene(65)
    readings = reader.read(frame)
    assert detector_regions == [(0, 0, 200, 120), None]
    assert [(r.plate, r.sure) for r in readings][:1] == [(text, True)]


def test_a_plate_whose_bands_showed_part_of_its_serial_is_found_by_the_detector_around_it(
    reader: PlateReader, detector_regions: list[tuple[int, int, int, int] | None]
) -> None:
    """The second generator's hard scene #71 of seed 1 (湘J·93H19, a small blue plate): its
    colour and edge bands showed "J·93H1" and "湘J-93H1", the last 9 cut off, and the detector
    over the whole frame at 640 px boxed the same short line, so nothing was read. At the
    frame's own scale around that part of a serial it boxes the whole line."""
    rng = np.random.default_rng([1, 71])
    text, colour = plates_other.random_plate(rng)
    frame, _ = plates_other.render_scene_face(text, colour, rng, difficulty="hard")
    assert text == "湘J93H19"
    assert reader.read(frame, quick=True) == []  # the cheap stages read no plate
    readings = reader.read(frame)
    assert [(r.plate, r.sure) for r in readings][:1] == [(text, True)]
    assert detector_regions[:1] != [None]  # the first pass: around the partial serial
    x, y, w, h = detector_regions[0]  # type: ignore[misc]
    bx, by, bw, bh = readings[0].box
    assert x <= bx and bx + bw <= x + w and y <= by and by + bh <= y + h


def test_where_the_partial_serial_was_a_date_the_whole_frame_is_searched_too(
    reader: PlateReader,
    detector_regions: list[tuple[int, int, int, int] | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The strip that showed a serial alone may be a date stamped in the frame's corner
    (EasyPR's photos have them): its region shows no plate, and the whole frame is searched
    after it."""
    from kuaichu.media.plate_reader import reader as reader_module

    monkeypatch.setattr(reader_module, "detector_region", lambda *_: (0, 0, 200, 120))
    rng = np.random.default_rng([1, 71])
    text, colour = plates_other.random_plate(rng)
    frame, _ = plates_other.render_scene_face(text, colour, rng, difficulty="hard")
    readings = reader.read(frame)
    assert detector_regions[:2] == [(0, 0, 200, 120), None]
    assert not any(r.sure and r.plate != text for r in readings)


def test_the_detector_region_lies_around_the_likeliest_reading_within_the_frame() -> None:
    from kuaichu.media.plate_reader.reader import detector_region

    def reading(
        box: tuple[int, int, int, int], confidence: float
    ) -> tuple[tuple[int, int, int, int], float]:
        return (box, confidence)

    assert detector_region([], (720, 1280, 3)) is None
    near_edge = reading((20, 650, 100, 40), 0.4)
    elsewhere = reading((600, 300, 100, 40), 0.1)
    x, y, w, h = detector_region([elsewhere, near_edge], (720, 1280, 3))  # type: ignore[misc]
    assert (x, y) == (0, 590)  # a box's width left, 1.5 heights up, cut at the frame
    assert (x + w, y + h) == (220, 720)
    past_the_edge = reading((1275, 100, 2, 40), 0.4)  # a box extrapolated out of the frame
    assert detector_region([past_the_edge], (720, 1280, 3)) is None


def test_a_character_the_recogniser_saw_inside_the_plate_is_never_dropped_surely() -> None:
    """A new-energy plate in glare, its band judged yellow: the grammar fitted its eight
    characters to a blue or yellow plate's seven by leaving out the 5 the recogniser read
    clearly (皖K·DP6758 proposed as 皖K·DP678, sure, on the second generator's hard scene
    #57 of seed 3). Such a reading is offered as unsure, the whole run first; a character
    more at either end (a bolt, the holder's edge) is not a dropped one."""
    from kuaichu.media.plate_reader.acceptance import accept
    from kuaichu.media.plate_reader.grammar import PROVINCE_CHARS, dropped_inside
    from kuaichu.media.plate_reader.recognition import Decoded

    assert dropped_inside("KDP6758", "KDP678") == "KDP6758"
    assert dropped_inside("KDP678", "KDP678") is None
    assert dropped_inside("A123451", "A12345") is None  # a bolt after the plate
    assert dropped_inside("1A12345", "A12345") is None  # ... or before it
    assert dropped_inside("A12X45", "A12345") is None  # a misread, not a dropped one

    quad = np.array([(100, 100), (400, 100), (400, 200), (100, 200)], np.float32)
    posterior = np.full(len(PROVINCE_CHARS), 1e-6, np.float32)
    posterior[PROVINCE_CHARS.index("皖")] = 1.0
    chars = (1.0,) * 7
    runners = (("", 0.0),) * 7
    dropped = accept(
        Decoded("皖KDP678", chars, 0.0, "K DP6758", posterior, runners),
        posterior,
        1.0,
        "yellow",
        quad,
    )
    assert dropped is not None and not dropped.sure
    assert dropped.alternatives[0] == "皖K·DP6758"
    with_bolt = Decoded("皖A12345", chars, 0.0, "皖A·123451", posterior, runners)
    bolt = accept(with_bolt, posterior, 1.0, "blue", quad)
    assert bolt is not None and bolt.sure

    # On a green band, the one more may stand right after the province: the recogniser
    # fused 京F·F98931's first F with the province and printed 京虾F98931 (the second
    # generator's hard scene #49 of seed 3, 150-220 px), proposed as 京F·98931, sure.
    assert dropped_inside("京虾F98931", "F98931", after_province=True) == "虾F98931"
    assert dropped_inside("京虾F98931", "F98931") is None
    assert dropped_inside("虾F98931", "F98931", after_province=True) is None  # no province
    jing = np.full(len(PROVINCE_CHARS), 1e-6, np.float32)
    jing[PROVINCE_CHARS.index("京")] = 1.0
    fused = Decoded("京F98931", chars, 0.0, "京虾F98931", jing, runners)
    on_green = accept(fused, jing, 1.0, "green", quad)
    assert on_green is not None and not on_green.sure
    both_seen = Decoded("京F98931", chars, 0.0, "京FF98931", jing, runners)
    offered = accept(both_seen, jing, 1.0, "green", quad)
    assert offered is not None and not offered.sure
    assert offered.alternatives[0] == "京F·F98931"


def test_a_near_plate_on_a_car_of_its_own_colour_is_read_without_the_detector(
    reader: PlateReader, detector_regions: list[tuple[int, int, int, int] | None]
) -> None:
    """Filmed close, as the officer asks, a blue plate on a blue car: its colour does not
    stand out, and at the edge stage's finer size the strokes of its large characters stand
    too far apart to close into one band. The coarser size finds it: read by the cheap stages,
    without the text detector's ~200 ms."""
    from kuaichu.media.plate_reader.candidates import edge_candidates

    plate = render_plate("赣Y965S4", "blue")
    corners = np.array([(500, 300), (860, 310), (858, 420), (498, 410)], np.float32)
    blue = tuple(int(v) for v in np.median(plate.reshape(-1, 3), axis=0))  # the plate's own
    frame = plate_on_plain_frame(plate, corners, blue, np.random.default_rng(5))
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    bands = [cv2.boundingRect(c.quad.astype(np.int32)) for c in edge_candidates(gray)]
    assert any(w > 250 and box_covers((x, y, w, h), corners) for x, y, w, h in bands), bands
    readings = reader.read(frame)
    assert [(r.plate, r.sure) for r in readings][:1] == [("赣Y965S4", True)]
    assert detector_regions == []


def test_a_whole_plate_read_otherwise_than_its_serial_alone_is_never_sure(
    reader: PlateReader,
) -> None:
    """A yellow plate turned 22 degrees in the picture, a yellow road line touching its lower
    edge (so its colour blob is no plate's shape): the edge band read "·3465P", and the whole
    plate's strip, extended from it, cut the P to its stem and read 晋C·34651 at 0.75, sure.
    Two strips of one plate disagreeing is a doubt: that reading is never proposed, the later
    stages run and read the plate right."""
    text, frame = turned_scene(5, 22.0, (220.0, 280.0), 70, 0.0)
    assert text == "晋C3465P"

    quick = reader.read(frame, quick=True)  # the cheap stages, the extended one among them
    assert quick and quick[0].plate == "晋C34651" and not quick[0].sure
    assert quick[0].alternatives[0] == "晋C·3465P"
    readings = reader.read(frame)
    assert [(r.plate, r.sure) for r in readings][:1] == [("晋C3465P", True)]


def test_a_disagreeing_serial_caps_the_reading_and_comes_first_among_the_alternatives() -> None:
    from kuaichu.media.plate_reader.acceptance import UNSURE_CEILING, disagreeing

    read = PlateReading("晋C34651", "晋C·34651", "yellow", 0.75, (0, 0, 9, 3), ("晋C·3465T",))
    offered = disagreeing(read, "3465P")
    assert not offered.sure and offered.confidence == UNSURE_CEILING
    assert offered.alternatives == ("晋C·3465P", "晋C·3465T")
    # The serial alone held the letter too (six characters): the head is the province only.
    green = PlateReading("沪AF61230", "沪A·F61230", "green", 0.9, (0, 0, 9, 3))
    assert disagreeing(green, "BF61230").alternatives[0] == "沪B·F61230"
    # The same plate once read leniently (I for 1, O for 0): not offered as another.
    assert disagreeing(green, "F6I23O").alternatives == ()


def test_a_plate_read_in_a_box_that_hid_its_province_is_looked_at_again_by_the_detector(
    reader: PlateReader, detector_regions: list[tuple[int, int, int, int] | None]
) -> None:
    """A large, clean blue plate on a blue car: its colour does not stand out, and the edge
    band took in the grille above it, so the strip read 甘F·2993F's province as 啡 and the
    reading (川F·2993F, 0.03) was unsure with its serial clear, which stopped the stages. The
    detector's own box around it, at the frame's scale, reads the plate, sure; the whole frame
    is not searched."""
    text, frame = turned_scene(33, 0.0, (220.0, 280.0), 70, 0.0)
    assert text == "甘F2993F"
    quick = reader.read(frame, quick=True)
    assert quick and not quick[0].sure and quick[0].plate[1:] == text[1:]
    readings = reader.read(frame)
    assert [(r.plate, r.sure) for r in readings][:1] == [(text, True)]
    assert len(detector_regions) == 1 and detector_regions[0] is not None


def test_two_readings_of_one_plate_become_one_with_the_other_first_among_its_alternatives() -> None:
    """Two stages' boxes of one small plate read two provinces, both unsure: the console shows
    the surer, and the other is the first button the officer can tap instead. Readings of
    other plates stay readings of their own; the same plate twice is shown once."""
    from kuaichu.media.plate_reader.acceptance import dedupe

    first = PlateReading("鲁Y15552", "鲁Y·15552", "yellow", 0.42, (100, 100, 120, 40),
                         ("豫Y·15552", "苏Y·15552"))  # fmt: skip
    second = PlateReading("贵Y15552", "贵Y·15552", "yellow", 0.24, (104, 98, 118, 42))
    elsewhere = PlateReading("京A12345", "京A·12345", "blue", 0.9, (600, 300, 120, 40))
    again = PlateReading("京A12345", "京A·12345", "blue", 0.7, (604, 302, 118, 40))
    out = dedupe([second, elsewhere, first, again])
    assert [r.plate for r in out] == ["京A12345", "鲁Y15552"]
    assert out[1].alternatives == ("贵Y·15552", "豫Y·15552", "苏Y·15552")
    assert out[0].alternatives == ()
    # Two boxes of 川P22635 through a call read 川Z·22635 and 沪P·22635: the truth is one's
    # province with the other's letter, offered right after the other reading.
    z = PlateReading("川Z22635", "川Z·22635", "blue", 0.3, (10, 10, 90, 30), ("川T·22635",))
    p = PlateReading("沪P22635", "沪P·22635", "blue", 0.2, (12, 10, 88, 30))
    assert dedupe([z, p])[0].alternatives == ("沪P·22635", "川P·22635", "沪Z·22635", "川T·22635")
    # Already among the alternatives, further down: moved to the front.
    third = PlateReading("苏Y15552", "苏Y·15552", "yellow", 0.1, (100, 100, 120, 40))
    assert dedupe([first, third])[0].alternatives == ("苏Y·15552", "豫Y·15552")
