"""Train the small plates' province classifier (kuaichu/media/plate_reader/province_net.py).

Not part of the server: it needs torch, which the server does not. On this project's machines:

    python3 -m venv /tmp/trainenv
    /tmp/trainenv/bin/pip install /opt/wheels/torch-2.13.0+cpu-*.whl \
        numpy opencv-python-headless pillow
    /tmp/trainenv/bin/python scripts/train_province_net.py --samples 80000 --epochs 10

It draws its own training pictures, the province in one of two sets of faces (``--faces``; a
face is used only if it draws all 31 provinces, not a .notdef box):

- ``noto`` (the default, and the shipped ``province_net.onnx``): Noto Sans CJK Regular and Bold,
  every regional variant (Debian's fonts-noto-cjk);
- ``three`` (tried in docs/benchmarks.md's sixth round, not shipped: the hard sets read no
  more plates): three type designs, ``apt-get install fonts-noto-cjk-extra fonts-hanazono
  fonts-lxgw-wenkai``. Noto Sans CJK in all seven weights (Thin to Black: the same gothic, thin
  strokes too), half of the samples; Hanazono Mincho (HanaMinA), an independent Mincho design,
  a quarter; LXGW WenKai Light/Regular/Bold, an independent Kai design, a quarter.

Neither set holds a face the benchmark measures on, nor one derived from them: its two
generators draw their provinces in WenQuanYi Micro Hei, WenQuanYi Zen Hei, Noto Serif CJK, AR
PL UMing/UKai (so not AR PL SungtiL/KaitiM GB either, their sources) and Droid Sans Fallback,
and the real photos show the plate typeface; none of what the reader is measured on was seen
in training.

Each sample: the left end of a plate in millimetres (GA 36: the province in the cell x 15.5..60.5,
y 25..115, the authority letter beside it, the rim, dirt), the holder or the car around it;
warped to a small plate (75-500 px wide, mostly under 160) with roll and perspective; blurred,
noisy, at night or in glare, sometimes shrunk to 2/3 and blown up again (a 480p call shown at
720p), JPEG at quality 15-95; then cut back through a grid that is off by a few millimetres, with
the same ``cut`` the reader uses. One sample in eight is cut a whole cell off: class "none".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kuaichu.media.plate_reader.grid import cut
from kuaichu.media.plate_reader.province_net import (
    CLASSES,
    CROP_MM,
    CROP_SIZE,
    WEIGHTS,
    normalise,
    to_gray,
)

NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
NOTO_WEIGHTS = ("Thin", "Light", "DemiLight", "Regular", "Medium", "Bold", "Black")
# Per --faces: (share of the samples, files) per family; each family's faces are drawn uniformly.
FACE_SETS = {
    "noto": ((1.0, tuple(NOTO_DIR / f"NotoSansCJK-{w}.ttc" for w in ("Regular", "Bold"))),),
    "three": (
        (0.5, tuple(NOTO_DIR / f"NotoSansCJK-{w}.ttc" for w in NOTO_WEIGHTS)),
        (0.25, (Path("/usr/share/fonts/truetype/hanazono/HanaMinA.ttf"),)),
        (
            0.25,
            tuple(
                Path(f"/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-{w}.ttf")
                for w in ("Light", "Regular", "Bold")
            ),
        ),
    ),
}
LATIN = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf"),
)
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
PX = 2.0  # drawing resolution, px per mm
# The drawn region, mm: wide enough for a crop shifted a whole cell either way.
X0, Y0, X1, Y1 = -70.0, -15.0, 150.0, 155.0
NONE = len(CLASSES) - 1

_glyphs: dict[tuple[int, str], np.ndarray] = {}


Face = tuple[Path, int]  # a font file, the index in a collection


def draws_all(face: Face) -> bool:
    """Whether the face has a glyph of its own for every province (not the .notdef box)."""
    font = ImageFont.truetype(str(face[0]), 40, index=face[1])

    def ink(ch: str) -> bytes:
        image = Image.new("L", (60, 60), 0)
        ImageDraw.Draw(image).text((5, 0), ch, fill=255, font=font)
        return image.tobytes()

    missing = ink("\U000f0000")  # a private-use character: no face draws it
    return all(ink(ch) != missing and any(ink(ch)) for ch in CLASSES[:NONE])


def faces(face_set: str) -> list[tuple[float, list[Face]]]:
    """Per family: its share of the samples and the installed faces that draw every province
    (every index of a collection: the Mono and regional variants of Noto Sans CJK)."""
    out = []
    for share, paths in FACE_SETS[face_set]:
        found = []
        for path in paths:
            for index in range(10):
                try:
                    ImageFont.truetype(str(path), 20, index=index)
                except OSError:
                    break
                if draws_all((path, index)):
                    found.append((path, index))
        if not found:
            sys.exit(f"none of {[p.name for p in paths]} installed: see this script's docstring")
        out.append((share, found))
    return out


def pick_face(rng: np.random.Generator, cjk: list[tuple[float, list[Face]]]) -> Face:
    if len(cjk) == 1:  # no family to draw: "noto" draws as the shipped net's pictures were
        return cjk[0][1][int(rng.integers(len(cjk[0][1])))]
    shares = np.array([share for share, _ in cjk])
    family = cjk[int(rng.choice(len(cjk), p=shares / shares.sum()))][1]
    return family[int(rng.integers(len(family)))]


def glyph(face: Face, ch: str) -> np.ndarray:
    key = (hash(face), ch)
    if key not in _glyphs:
        font = ImageFont.truetype(str(face[0]), 200, index=face[1])
        image = Image.new("L", (300, 300), 0)
        ImageDraw.Draw(image).text((40, 10), ch, fill=255, font=font)
        ink = np.asarray(image, np.uint8)
        ys, xs = np.nonzero(ink > 40)
        _glyphs[key] = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return _glyphs[key]


def to_px(x: float, y: float) -> tuple[int, int]:
    return round((x - X0) * PX), round((y - Y0) * PX)


def draw(
    rng: np.random.Generator, ch: str, colour: str, cjk: list[tuple[float, list[Face]]]
) -> Any:
    """The plate's left end and what is around it, BGR float32 at PX per mm."""
    w, h = round((X1 - X0) * PX), round((Y1 - Y0) * PX)
    around = rng.uniform(10, 230, 3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = around
    if rng.random() < 0.6:  # a holder, a few mm round the plate
        m = rng.uniform(4, 16)
        grey = rng.uniform(15, 200)
        (ax, ay), (bx, by) = to_px(-m, -m), to_px(X1 + 10, 140 + m)
        cv2.rectangle(img, (ax, ay), (bx, by), (grey, grey, grey), -1)
    (px0, py0), (px1, py1) = to_px(0, 0), to_px(X1 + 10, 140)
    jitter = rng.uniform(-20, 20, 3)
    if colour == "blue":
        bg = np.array([190, 72, 16], np.float32) + jitter
        ink = np.array([240, 240, 240], np.float32) - rng.uniform(0, 40)
        img[py0:py1, px0:px1] = bg
    elif colour == "yellow":
        bg = np.array([20, 185, 245], np.float32) + jitter
        ink = np.full(3, rng.uniform(5, 40), np.float32)
        img[py0:py1, px0:px1] = bg
    else:
        t = np.linspace(0, 1, py1 - py0, dtype=np.float32)[:, None]
        top = np.array([240, 248, 240], np.float32)
        low = np.array([90, 190, 60], np.float32) + jitter
        p = rng.uniform(0.8, 2.0)
        img[py0:py1, px0:px1] = top * (1 - t**p)[..., None] + low * (t**p)[..., None]
        ink = np.full(3, rng.uniform(5, 40), np.float32)
    if rng.random() < 0.7:  # the rim
        r = rng.uniform(1, 3)
        (ax, ay), (bx, by) = to_px(r, r), to_px(X1 + 5, 140 - r)
        cv2.rectangle(img, (ax, ay), (bx, by), tuple(float(v) for v in ink), max(1, round(PX)))
    green = colour == "green"
    cells = [(15.5, 45.0), (69.5 if green else 72.5, 43.0 if green else 45.0)]
    cells.append((161.5 if green else 151.5, 43.0 if green else 45.0))
    texts = [ch, str(rng.choice(list(LETTERS[:24]))), str(rng.choice(list(LETTERS)))]
    for k, (text, (cx, cw)) in enumerate(zip(texts, cells, strict=True)):
        if k == 0:
            mask = glyph(pick_face(rng, cjk), text)
        else:
            mask = glyph((LATIN[int(rng.integers(len(LATIN)))], 0), text)
        ch_h = 90 * PX * rng.uniform(0.94, 1.03)
        natural = mask.shape[1] * ch_h / mask.shape[0]
        ch_w = cw * PX if rng.random() < 0.5 else min(cw * PX, natural)
        ch_w *= rng.uniform(0.9, 1.05)
        m = cv2.resize(mask, (max(4, round(ch_w)), round(ch_h)), interpolation=cv2.INTER_AREA)
        weight = int(rng.integers(-2, 4))
        if weight:
            kernel = np.ones((abs(weight) + 1, abs(weight) + 1), np.uint8)
            m = cv2.dilate(m, kernel) if weight > 0 else cv2.erode(m, kernel)
        ox, oy = to_px(cx + cw / 2 + rng.normal(0, 1.0), 25 + rng.normal(0, 1.2))
        ox -= m.shape[1] // 2
        ys, xs = (
            slice(max(0, oy), min(h, oy + m.shape[0])),
            slice(max(0, ox), min(w, ox + m.shape[1])),
        )
        if ys.stop <= ys.start or xs.stop <= xs.start:
            continue
        a = (
            m[ys.start - oy : ys.stop - oy, xs.start - ox : xs.stop - ox].astype(np.float32)[
                ..., None
            ]
            / 255
        )
        img[ys, xs] = img[ys, xs] * (1 - a) + ink * a
    if rng.random() < 0.8:  # a bolt
        bx = rng.uniform(85, 115)
        c = (205, 200, 200) if rng.random() < 0.6 else (60, 90, 120)
        cv2.circle(img, to_px(bx, 12), round(5 * PX), c, -1, cv2.LINE_AA)
    if rng.random() < 0.5:  # dirt
        dirt = np.zeros(img.shape[:2], np.float32)
        for _ in range(int(rng.integers(3, 30))):
            cx, cy = rng.uniform(-10, 140), rng.uniform(0, 140)
            cv2.circle(
                dirt, to_px(cx, cy), int(rng.integers(1, 25)), float(rng.uniform(0.2, 0.7)), -1
            )
        dirt = cv2.GaussianBlur(dirt, (0, 0), 2.0)[..., None]
        img = img * (1 - dirt) + np.array([60, 90, 110], np.float32) * dirt
    return img


def sample(rng: np.random.Generator, cjk: list[tuple[float, list[Face]]]) -> tuple[np.ndarray, int]:
    colour = str(rng.choice(["blue", "yellow", "green"], p=[0.55, 0.2, 0.25]))
    label = int(rng.integers(NONE))
    img = draw(rng, CLASSES[label], colour, cjk)
    # The plate's width in the frame: mostly small, where the recogniser fails.
    u = rng.random()
    width_px = (
        rng.uniform(75, 160)
        if u < 0.65
        else rng.uniform(160, 300)
        if u < 0.9
        else rng.uniform(300, 500)
    )
    s = width_px / 440.0  # px per mm in the frame
    small = cv2.resize(img, None, fx=s / PX, fy=s / PX, interpolation=cv2.INTER_AREA)
    # Roll and perspective around the small picture's centre, a sub-pixel offset.
    sh, sw = small.shape[:2]
    roll = np.radians(rng.uniform(-10, 10))
    yaw, pitch = rng.uniform(-0.25, 0.25), rng.uniform(-0.12, 0.12)
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32) - [sw / 2, sh / 2]
    dst = src.copy()
    dst[:, 1] *= 1 + yaw * np.sign(dst[:, 0]) / 2
    dst[:, 0] *= 1 + pitch * np.sign(dst[:, 1]) / 2
    rot = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    dst = dst @ rot.T
    pad = 6
    dst += -dst.min(axis=0) + pad + rng.uniform(0, 1, 2)
    out_w, out_h = (np.ceil(dst.max(axis=0)) + pad).astype(int)
    warp = cv2.getPerspectiveTransform(
        np.add(src, [sw / 2, sh / 2]).astype(np.float32), dst.astype(np.float32)
    )
    frame = cv2.warpPerspective(
        small,
        warp,
        (int(out_w), int(out_h)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    night = rng.random() < 0.2
    if night:
        frame *= rng.uniform(0.15, 0.5)
        frame += rng.uniform(0, 40)
    elif rng.random() < 0.25:  # glare
        gx, gy = rng.uniform(0, out_w), rng.uniform(0, out_h)
        yy, xx = np.mgrid[0:out_h, 0:out_w]
        r = rng.uniform(0.1, 0.6) * out_w
        frame += (rng.uniform(40, 160) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r)))[
            ..., None
        ]
    sigma = rng.uniform(0, 1.5)
    if sigma > 0.25:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    frame += rng.normal(0, rng.uniform(1, 8) * (1.6 if night else 1.0), frame.shape)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:  # a 480p call shown at 720p
        fh, fw = frame.shape[:2]
        tiny = cv2.resize(
            frame, (max(8, fw * 2 // 3), max(8, fh * 2 // 3)), interpolation=cv2.INTER_AREA
        )
        frame = cv2.resize(tiny, (fw, fh), interpolation=cv2.INTER_LINEAR)
    quality = int(rng.integers(15, 96))
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    # Millimetres -> frame pixels, and the grid's error.
    mm_to_small = np.array([[s, 0, -X0 * s], [0, s, -Y0 * s], [0, 0, 1]], np.float64)
    to_frame = warp.astype(np.float64) @ mm_to_small
    dx = float(np.clip(rng.normal(0, 2.5), -7, 7))
    dy = float(np.clip(rng.normal(0, 3.0), -9, 9))
    if rng.random() < 0.125:
        label = NONE
        dx = float(rng.choice([57.0, -45.0, -60.0]) + rng.normal(0, 4))
    sx, sy = rng.uniform(0.92, 1.08, 2)
    cx, cy = (CROP_MM[0] + CROP_MM[2]) / 2, (CROP_MM[1] + CROP_MM[3]) / 2
    error = np.array(
        [[sx, 0, cx - sx * cx + dx], [0, sy, cy - sy * cy + dy], [0, 0, 1]], np.float64
    )
    crop = cut(frame, to_frame @ error, CROP_MM, CROP_SIZE)
    return normalise(to_gray(crop), colour), label


def make(args: tuple[int, int, int, str]) -> tuple[np.ndarray, np.ndarray]:
    seed, start, n, face_set = args
    cv2.setNumThreads(1)
    cjk = faces(face_set)
    xs = np.empty((n, CROP_SIZE[1], CROP_SIZE[0]), np.float32)
    ys = np.empty(n, np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, start + i])
        xs[i], ys[i] = sample(rng, cjk)
    return xs, ys


def dataset(seed: int, n: int, workers: int, face_set: str) -> tuple[np.ndarray, np.ndarray]:
    chunk = 2000
    jobs = [(seed, s, min(chunk, n - s), face_set) for s in range(0, n, chunk)]
    with Pool(workers) as pool:
        parts = pool.map(make, jobs)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def train(args: argparse.Namespace) -> None:
    import torch
    from torch import nn

    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    t0 = time.time()
    xs, ys = dataset(args.seed, args.samples, args.workers, args.faces)
    vx, vy = dataset(args.seed + 1000, args.samples // 20, args.workers, args.faces)
    print(f"data: {len(xs)} + {len(vx)} samples in {time.time() - t0:.0f} s", flush=True)
    if args.save_examples:
        tiles = [(np.clip(x * 40 + 128, 0, 255)).astype(np.uint8) for x in xs[:64]]
        grid = np.vstack([np.hstack(tiles[r * 16 : (r + 1) * 16]) for r in range(4)])
        cv2.imwrite(str(args.save_examples), cv2.resize(grid, None, fx=2, fy=2))

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    net = nn.Sequential(
        *block(1, 16),
        nn.MaxPool2d(2),
        *block(16, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.MaxPool2d(2),
        *block(64, 64),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(64 * (CROP_SIZE[1] // 8) * (CROP_SIZE[0] // 8), len(CLASSES)),
    )
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = args.epochs * (len(xs) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    tx, ty = torch.from_numpy(xs)[:, None], torch.from_numpy(ys)
    vtx, vty = torch.from_numpy(vx)[:, None], torch.from_numpy(vy)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(tx))
        total = 0.0
        for b in range(len(tx) // args.batch):
            idx = order[b * args.batch : (b + 1) * args.batch]
            opt.zero_grad()
            loss = loss_fn(net(tx[idx]), ty[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(vtx[i : i + 1024]).argmax(1) for i in range(0, len(vtx), 1024)])
        acc = float((pred == vty).float().mean())
        print(
            f"epoch {epoch + 1}: loss {total / (len(tx) // args.batch):.3f}"
            f" held-out accuracy {acc:.3f} ({time.time() - t0:.0f} s)",
            flush=True,
        )
    export(net, args.out)


def export(net: Any, out: Path) -> None:
    """Batch norm folded into the convolutions; numpy float32 arrays."""
    from torch import nn

    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    norms = [m for m in net if isinstance(m, nn.BatchNorm2d)]
    arrays: dict[str, np.ndarray] = {}
    for i, (conv, bn) in enumerate(zip(convs, norms, strict=True)):
        scale = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach().numpy()
        w = conv.weight.detach().numpy() * scale[:, None, None, None]
        b = bn.bias.detach().numpy() - bn.running_mean.detach().numpy() * scale
        arrays[f"conv{i}.w"], arrays[f"conv{i}.b"] = w.astype(np.float32), b.astype(np.float32)
    fc = next(m for m in net if isinstance(m, nn.Linear))
    arrays["fc.w"] = fc.weight.detach().numpy().astype(np.float32)
    arrays["fc.b"] = fc.bias.detach().numpy().astype(np.float32)
    to_onnx(arrays, out)


def to_onnx(arrays: dict[str, np.ndarray], out: Path) -> None:
    """The net as an ONNX graph, run by onnxruntime like the PP-OCR models (one thread)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], [numpy_helper.from_array(v, name=k) for k, v in arrays.items()]
    x = "x"
    for i in range(4):
        nodes.append(
            helper.make_node("Conv", [x, f"conv{i}.w", f"conv{i}.b"], [f"c{i}"], pads=[1] * 4)
        )
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        x = f"r{i}"
        if i < 3:
            nodes.append(
                helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2])
            )
            x = f"p{i}"
    nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["p"], axis=1))
    w, h = CROP_SIZE
    graph = helper.make_graph(
        nodes,
        "province_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, h, w])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["n", len(CLASSES)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.metadata_props.append(onnx.StringStringEntryProto(key="classes", value="".join(CLASSES)))
    onnx.checker.check_model(model)
    out.write_bytes(model.SerializeToString())
    print(f"saved {out} ({out.stat().st_size // 1024} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=80_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faces", choices=sorted(FACE_SETS), default="noto")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--save-examples", type=Path, default=None)
    parser.add_argument("--from-npz", type=Path, default=None, help="only convert weights")
    args = parser.parse_args()
    if args.from_npz:
        with np.load(args.from_npz) as data:
            to_onnx({k: data[k] for k in data.files}, args.out)
        return
    train(args)


if __name__ == "__main__":
    main()
