"""Contact sheets and a mapping audit, for eyeballing families before trusting them.

- `contact_sheets/<family>.png`: the same 64 classes (widely covered ones, spread over the CLDR
  order) for every family, 2× enlarged, with the class name under each tile.
- `contact_sheets/audit-<family>.png` for name-mapped families: the 64 classes whose image looks
  least like the same class in the code-point-mapped reference families (Noto, Fluent flat,
  OpenMoji, Twemoji), each shown next to its Noto image. A wrong mapping (the "cricket" bat)
  ends up here; most entries are just unusual drawings.
- `contact_sheets/audit.tsv`: every name-mapped image with the rank of its own class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REFERENCE_FAMILIES = ("noto", "fluent-flat", "openmoji", "twemoji")
SHEET_COLUMNS = 8
SHEET_CLASSES = 64


def _label_lines(text: str, width: int) -> List[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        candidate = (line + " " + word).strip()
        if len(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return [l[:width] for l in lines[:2]]


def _tile(image, scale: int) -> Image.Image:
    if image is None:
        side = 32 * scale
        tile = Image.new("RGB", (side, side), (200, 200, 200))
        ImageDraw.Draw(tile).line((0, 0, side, side), fill=(150, 150, 150))
        return tile
    pil = Image.fromarray(image, "RGB")
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)


def sheet_classes(classes, families, images) -> List[int]:
    """Classes drawn by the most families, spread evenly over the CLDR order."""
    coverage = {}
    for class_id, family_id, variant in images:
        if variant == 0:
            coverage[class_id] = coverage.get(class_id, 0) + 1
    ranked = sorted(coverage, key=lambda c: (-coverage[c], c))
    pool = sorted(ranked[:4 * SHEET_CLASSES])
    if len(pool) <= SHEET_CLASSES:
        return pool
    step = len(pool) / SHEET_CLASSES
    return [pool[int(i * step)] for i in range(SHEET_CLASSES)]


def _grid(cells: Sequence[Tuple[List[Image.Image], str]], columns: int) -> Image.Image:
    font = ImageFont.load_default()
    tiles_width = max(sum(t.width for t in tiles) for tiles, _ in cells)
    cell_width, cell_height = max(tiles_width + 8, 100), max(t.height for tiles, _ in cells for t in tiles) + 28
    rows = (len(cells) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell_width, rows * cell_height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for index, (tiles, label) in enumerate(cells):
        x0, y0 = (index % columns) * cell_width, (index // columns) * cell_height
        x = x0 + (cell_width - sum(t.width for t in tiles)) // 2
        for tile in tiles:
            sheet.paste(tile, (x, y0 + 2))
            x += tile.width
        draw.rectangle((x0, y0, x0 + cell_width - 1, y0 + cell_height - 1), outline=(225, 225, 225))
        label = label.replace("\u2019", "'").encode("latin-1", "replace").decode("latin-1")
        for line_number, line in enumerate(_label_lines(label, cell_width // 6)):
            draw.text((x0 + 3, y0 + cell_height - 26 + 12 * line_number), line, fill=(0, 0, 0), font=font)
    return sheet


def write_contact_sheets(directory: Path, classes, families, images: Dict[Tuple[int, int, int], np.ndarray],
                         side: int) -> List[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    chosen = sheet_classes(classes, families, images)
    written = []
    for family_id, spec in enumerate(families):
        cells = [([_tile(images.get((c, family_id, 0)), 2)], classes[c].name) for c in chosen]
        path = directory / ("%s.png" % spec.name)
        _grid(cells, SHEET_COLUMNS).save(path, optimize=False)
        written.append(path)
    return written


def _descriptor(image: np.ndarray) -> np.ndarray:
    """Ink (255 − pixel) at 8×8, luminance and colour, unit length: crude, style-tolerant."""
    ink = 255.0 - image.astype(np.float64)
    side = ink.shape[0]
    small = ink.reshape(8, side // 8, 8, side // 8, 3).mean(axis=(1, 3))
    luminance = small.mean(axis=2, keepdims=True)
    vector = np.concatenate([small.ravel(), 2.0 * luminance.ravel()])
    return vector / (np.linalg.norm(vector) + 1e-9)


def audit_ranks(classes, families, images) -> Dict[int, List[Tuple[int, int]]]:
    """For each family: [(rank of the true class, class id)] against the reference families."""
    names = [f.name for f in families]
    reference_ids = [names.index(n) for n in REFERENCE_FAMILIES if n in names]
    class_ids = sorted({c for c, f, v in images if v == 0 and f in reference_ids})
    position = {c: i for i, c in enumerate(class_ids)}
    result = {}
    for family_id, spec in enumerate(families):
        refs = [r for r in reference_ids if r != family_id]
        if not refs:
            continue
        bank = np.zeros((len(refs), len(class_ids), 256))
        for row, ref in enumerate(refs):
            for c in class_ids:
                image = images.get((c, ref, 0))
                if image is not None:
                    bank[row, position[c]] = _descriptor(image)
        queries = sorted(c for c, f, v in images if f == family_id and v == 0 and c in position)
        if not queries:
            continue
        query_matrix = np.stack([_descriptor(images[(c, family_id, 0)]) for c in queries])
        similarity = np.einsum("rkd,qd->rqk", bank, query_matrix).max(axis=0)   # queries × classes
        own = similarity[np.arange(len(queries)), [position[c] for c in queries]]
        ranks = [(int(n), c) for n, c in zip((similarity > own[:, None]).sum(axis=1), queries)]
        result[family_id] = ranks
    return result


def write_audit(directory: Path, classes, families, images) -> List[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    ranks = audit_ranks(classes, families, images)
    names = [f.name for f in families]
    noto = names.index("noto") if "noto" in names else None
    written, lines = [], ["family\tclass_id\tname\trank_of_true_class"]
    for family_id, entries in sorted(ranks.items()):
        spec = families[family_id]
        for rank, c in sorted(entries, key=lambda e: e[1]):
            lines.append("%s\t%d\t%s\t%d" % (spec.name, c, classes[c].name, rank))
        if spec.kind != "iconify-slug":
            continue
        worst = sorted(entries, key=lambda e: (-e[0], e[1]))[:SHEET_CLASSES]
        cells = [([_tile(images.get((c, noto, 0)) if noto is not None else None, 2),
                   _tile(images[(c, family_id, 0)], 2)], "%d %s" % (rank, classes[c].name)) for rank, c in worst]
        path = directory / ("audit-%s.png" % spec.name)
        _grid(cells, SHEET_COLUMNS).save(path, optimize=False)
        written.append(path)
    (directory / "audit.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = {families[f].name: (float(np.median([r for r, _ in e])) if e else -1.0,
                                  float(np.mean([r < 10 for r, _ in e])) if e else 0.0) for f, e in ranks.items()}
    for name, (median, top10) in summary.items():
        print("  audit %-14s median rank of own class %6.1f, top-10 %.0f%%" % (name, median, 100 * top10))
    return written


def write_pair_pages(directory: Path, classes, families, images, family_names: Sequence[str],
                     per_page: int = 200, columns: int = 10) -> List[Path]:
    """Every default image of the named families next to its Noto image, in class order, paged."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [f.name for f in families]
    noto = names.index("noto") if "noto" in names else None
    written = []
    for name in family_names:
        if name not in names:
            continue
        family_id = names.index(name)
        chosen = sorted(c for c, f, v in images if f == family_id and v == 0)
        for page in range(0, len(chosen), per_page):
            cells = [([_tile(images.get((c, noto, 0)) if noto is not None else None, 1),
                       _tile(images[(c, family_id, 0)], 1)], classes[c].name) for c in chosen[page:page + per_page]]
            path = directory / ("pairs-%s-%02d.png" % (name, page // per_page))
            _grid(cells, columns).save(path, optimize=False)
            written.append(path)
    return written
