#!/usr/bin/python3
"""Build the EmojiBench pack: every emoji class drawn by every openly licensed artwork family,
rendered the same way, with captions, tasks and folds, in one checksummed file.

    tools/emojibench/fetch_sources.sh            # Debian packages + pinned npm tarballs, once
    /usr/bin/python3 tools/emojibench/build_pack.py
    # → ~/.cache/skiptune/emojibench/emojibench-v1.pack (+ .credits.txt, .mapping.tsv,
    #   contact_sheets/*.png)

The same inputs give the same bytes: everything is sorted, nothing depends on time or on the
machine, compression settings are fixed. See docs/emojibench.md for the design decisions.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

# One worker: keep BLAS (used by the audit) from spreading over every core.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PACK_NAME = "emojibench-v1"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "skiptune" / "emojibench"
EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
UNICODE_DATA = Path("/usr/share/unicode/UnicodeData.txt")
CLDR_ANNOTATIONS = (Path("/usr/share/unicode/cldr/common/annotations/en.xml"),
                    Path("/usr/share/unicode/cldr/common/annotationsDerived/en.xml"))
LICENCE_URLS = {
    "Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
    "OFL-1.1": "https://openfontlicense.org",
    "MIT": "https://opensource.org/license/mit",
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "GPL-2.0-or-later": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
}


def fail(message: str) -> None:
    print("build_pack: error: " + message, file=sys.stderr)
    sys.exit(2)


def import_dependencies():
    """numpy / Pillow come from Debian; say which package is missing instead of a traceback."""
    missing = []
    for module, package in (("numpy", "python3-numpy"), ("PIL", "python3-pil")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        fail("missing Python modules; install them with: apt-get install " + " ".join(missing)
             + "  (or run tools/emojibench/fetch_sources.sh); run this script with /usr/bin/python3")


class Progress:
    """One line per step, refreshed in place on a terminal, every ~10 % otherwise."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.start = label, max(total, 1), time.monotonic()
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def update(self, done: int) -> None:
        decile = done * 10 // self.total
        if self.tty and (done % 50 == 0 or done == self.total):
            print("\r  %-14s %6d/%d (%3d%%) %6.1f s" % (self.label, done, self.total, 100 * done // self.total,
                                                        time.monotonic() - self.start),
                  end="" if done < self.total else "\n", file=sys.stderr, flush=True)
        elif not self.tty and decile != self.last_decile:
            self.last_decile = decile
            print("  %-14s %6d/%d (%3d%%) %6.1f s" % (self.label, done, self.total, 100 * done // self.total,
                                                     time.monotonic() - self.start), file=sys.stderr, flush=True)


def debian_version(package: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    except FileNotFoundError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "not-installed"


def require_file(path: Path, package: str) -> Path:
    if not path.is_file():
        fail("%s is missing: install the Debian package %s (apt-get install %s, or run "
             "tools/emojibench/fetch_sources.sh)" % (path, package, package))
    return path


# ------------------------------------------------------------------------------------------
# Metadata


def class_entries(classes, tasks) -> List[dict]:
    membership = {}
    for task in tasks:
        for class_id in task.base:
            membership[class_id] = (task.name, "base")
        for class_id in task.new:
            membership[class_id] = (task.name, "new")
    entries = []
    for c in classes:
        task, split = membership.get(c.class_id, ("", ""))
        entries.append({"id": c.class_id, "emoji": c.emoji, "codepoints": c.codepoint_text, "name": c.name,
                        "keywords": c.keywords, "group": c.group, "subgroup": c.subgroup,
                        "emoji_version": c.emoji_version, "task": task, "split": split})
    return entries


def variant_entries(records) -> List[dict]:
    import emoji_catalog as catalog
    names = {0: "default"}
    for _, _, variant in records:
        if variant not in names:
            tones = [variant] if variant < 10 else [variant // 10, variant % 10]
            names[variant] = ", ".join(catalog.SKIN_TONE_NAMES[t - 1] for t in tones)
    return [{"id": v, "name": names[v]} for v in sorted(names)]


def family_licence_spdx(licence: str) -> List[str]:
    return [key for key in LICENCE_URLS if key in licence]


def credits_text(families: Sequence[dict], sources: Sequence[dict]) -> str:
    lines = [
        "EmojiBench (%s): artwork credits and licences" % PACK_NAME,
        "",
        "The pack holds small renderings (downscaled, cropped, composited on white) of the artwork",
        "below. Each rendering keeps the licence of its family; renderings of CC-BY-SA families are",
        "adaptations and are shared under CC-BY-SA-4.0. Attribution for each family:",
        "",
    ]
    for family in families:
        lines.append("- %s [%s] (role: %s)" % (family["title"], family["name"], family["role"]))
        lines.append("    source:      %s" % family["source"])
        lines.append("    licence:     %s" % family["licence"])
        for spdx in family_licence_spdx(family["licence"]):
            lines.append("                 %s" % LICENCE_URLS[spdx])
        lines.append("    attribution: %s" % family["attribution"])
        lines.append("    modified:    rendered at 128 px, cropped, recentred, resized to the pack's side, on white")
    lines += ["", "Text (class names, groups, keywords):",
              "- Unicode emoji-test.txt and CLDR annotations, Copyright (c) Unicode, Inc.,",
              "  Unicode License (https://www.unicode.org/license.txt)", "", "Source files:"]
    for source in sources:
        lines.append("- %s %s  %s  sha256 %s" % (source["package"], source["version"], source["file"], source["sha256"]))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# Building


def load_family_drawables(spec, classes, sources_dir: Path, size: int, skin_tones: str,
                          unicode_names, source_log: List[dict]):
    import artwork
    if spec.kind in ("iconify-chars", "iconify-slug"):
        tarball = sources_dir / artwork.npm_tarball_name(spec)
        if not tarball.is_file():
            fail("%s is missing: run tools/emojibench/fetch_sources.sh (it runs `npm pack %s`)"
                 % (tarball, spec.source))
        digest = artwork.sha256_of_file(tarball)
        expected = artwork.NPM_SHA256[spec.source]
        if digest != expected:
            fail("%s has sha256 %s, expected %s: delete it and rerun fetch_sources.sh"
                 % (tarball, digest, expected))
        source_log.append({"package": spec.package, "version": spec.version, "file": tarball.name, "sha256": digest})
        iconify = artwork.read_iconify_tarball(tarball)
        if spec.kind == "iconify-chars":
            return artwork.map_iconify_chars(iconify, classes, 128, skin_tones)
        return artwork.map_iconify_slugs(iconify, spec, classes, 128, skin_tones, unicode_names)
    version = debian_version(spec.package)
    for font in spec.fonts:
        require_file(Path(font), spec.package)
        source_log.append({"package": spec.package, "version": version, "file": Path(font).name,
                           "sha256": artwork.sha256_of_file(Path(font))})
    if spec.kind == "color-font":
        return artwork.map_color_font(spec, classes, skin_tones)
    return artwork.map_mono_font(spec, classes, 128)


def check_sources(families, sources_dir: Path) -> None:
    """Fail before any rendering if a tarball or font is missing (names what to install)."""
    import artwork
    problems = []
    for spec in families:
        if spec.kind.startswith("iconify"):
            tarball = sources_dir / artwork.npm_tarball_name(spec)
            if not tarball.is_file():
                problems.append("%s is missing (npm pack %s)" % (tarball, spec.source))
        else:
            problems += ["%s is missing (Debian package %s)" % (font, spec.package)
                         for font in spec.fonts if not Path(font).is_file()]
    if problems:
        fail("sources missing; run tools/emojibench/fetch_sources.sh (or apt-get install the "
             "packages named):\n  " + "\n  ".join(problems))


def family_source(spec) -> str:
    if spec.version:
        return spec.source
    return "%s@%s (Debian)" % (spec.package, debian_version(spec.package))


def build(args) -> int:
    import numpy as np
    import artwork
    import emoji_catalog as catalog
    import packfile
    import protocol
    import render

    started = time.monotonic()
    cache_dir = Path(args.cache_dir).expanduser()
    sources_dir = Path(args.sources_dir).expanduser() if args.sources_dir else cache_dir / "sources"
    output = Path(args.output).expanduser() if args.output else cache_dir / (PACK_NAME + ".pack")

    print("EmojiBench builder: reading Unicode / CLDR data", file=sys.stderr)
    emoji_test = require_file(EMOJI_TEST, "unicode-data")
    annotation_files = [require_file(p, "unicode-cldr-core") for p in CLDR_ANNOTATIONS]
    classes = catalog.load_catalog(emoji_test, annotation_files)
    unicode_names = catalog.parse_unicode_names(require_file(UNICODE_DATA, "unicode-data").read_text(encoding="utf-8"))
    source_log = [{"package": "unicode-data", "version": debian_version("unicode-data"), "file": emoji_test.name,
                   "sha256": artwork.sha256_of_file(emoji_test)}]
    for path in annotation_files:
        source_log.append({"package": "unicode-cldr-core", "version": debian_version("unicode-cldr-core"),
                           "file": "/".join(path.parts[-2:]), "sha256": artwork.sha256_of_file(path)})

    families = [f for f in artwork.FAMILIES if not args.families or f.name in args.families.split(",")]
    check_sources(families, sources_dir)
    renderer = render.Renderer(side=args.side, margin=args.margin, filter_name=args.filter)
    images: Dict[Tuple[int, int, int], "np.ndarray"] = {}
    origins: Dict[Tuple[int, int, int], str] = {}
    failures: Dict[str, List[str]] = {}
    for family_id, spec in enumerate(families):
        drawables = load_family_drawables(spec, classes, sources_dir, args.side, args.skin_tones,
                                          unicode_names, source_log)
        progress = Progress(spec.name, len(drawables))
        for done, ((class_id, variant), drawable) in enumerate(sorted(drawables.items()), 1):
            pixels = render.try_render(renderer, drawable)
            if pixels is None:
                failures.setdefault(spec.name, []).append(drawable.origin)
            else:
                images[(class_id, family_id, variant)] = pixels
                origins[(class_id, family_id, variant)] = drawable.origin
            progress.update(done)

    stage_seconds = {"read + render": time.monotonic() - started}
    records = sorted(images)
    down = [i for i, f in enumerate(families) if f.role == artwork.ROLE_DOWN]
    complete = [c.class_id for c in classes if all((c.class_id, f, 0) in images for f in down)]
    tasks = protocol.build_tasks([(c.class_id, c.group, c.subgroup) for c in classes], complete)
    folds = protocol.build_folds(down) if len(down) >= 3 else []
    family_entries = [{"id": i, "name": f.name, "title": f.title, "role": f.role, "licence": f.licence,
                       "attribution": f.attribution, "source": family_source(f), "monochrome": f.monochrome,
                       "mapping": {"iconify-chars": "code points (chars.json)",
                                   "iconify-slug": "name slug, emoji <= E%s" % f.max_emoji_version,
                                   "color-font": "font shaping (raqm)",
                                   "mono-font": "font cmap, single code points"}[f.kind]}
                      for i, f in enumerate(families)]
    metadata = {
        "format": "skiptune-emojibench",
        "name": PACK_NAME,
        "image_side": args.side,
        "channels": 3,
        "render": {"render_size": render.RENDER_SIZE, "color_font_ppem": 109, "margin": args.margin,
                   "filter": args.filter, "alpha_threshold": render.ALPHA_THRESHOLD, "background": "white",
                   "skin_tones": args.skin_tones},
        "sources": source_log,
        "classes": class_entries(classes, tasks),
        "families": family_entries,
        "variants": variant_entries(records),
        "tasks": [{"name": t.name, "groups": t.groups, "subgroups": t.subgroups, "base": t.base, "new": t.new}
                  for t in tasks],
        "folds": [{"id": f.fold_id, "train_families": f.train_families, "test_families": f.test_families}
                  for f in folds],
        "protocol": {"test_views": protocol.TEST_VIEWS, "shot_families_per_fold": protocol.SHOT_FAMILIES_PER_FOLD,
                     "shot_rule": "shot j: train family j mod 3; r = j div 3; rendering r mod n, augmentation r div n",
                     "test_rule": "each test family's default rendering x test_views fixed views (view 0 clean)",
                     "pretraining_rule": "task classes: pretrain families only; other classes: every family",
                     "zero_shot_prompt": "an emoji of {name}"},
    }
    print("writing %s" % output, file=sys.stderr)
    write_started = time.monotonic()
    pixels = np.stack([images[r] for r in records]) if records else np.zeros((0, args.side, args.side, 3), np.uint8)
    data = packfile.write_pack(output, metadata, records, pixels)
    credits_path = output.with_suffix(".credits.txt")
    packfile.write_atomically(credits_path, credits_text(family_entries, source_log).encode("utf-8"))
    mapping_lines = ["class_id\tfamily\tvariant\temoji\tname\tsource_name"]
    for class_id, family_id, variant in records:
        c = classes[class_id]
        mapping_lines.append("%d\t%s\t%d\t%s\t%s\t%s" % (class_id, families[family_id].name, variant, c.emoji,
                                                         c.name, origins[(class_id, family_id, variant)]))
    packfile.write_atomically(output.with_suffix(".mapping.tsv"), ("\n".join(mapping_lines) + "\n").encode("utf-8"))
    stage_seconds["compress + write"] = time.monotonic() - write_started

    if not args.no_contact_sheets:
        sheets_started = time.monotonic()
        import sheets
        sheet_dir = cache_dir / "contact_sheets" if not args.output else output.parent / "contact_sheets"
        written = sheets.write_contact_sheets(sheet_dir, classes, families, images, args.side)
        audit = sheets.write_audit(sheet_dir, classes, families, images)
        if args.pair_pages:
            wanted = [f.name for f in families] if args.pair_pages == "all" else args.pair_pages.split(",")
            audit += sheets.write_pair_pages(sheet_dir, classes, families, images, wanted)
        print("contact sheets: %s (%d files)" % (sheet_dir, len(written) + len(audit)), file=sys.stderr)
        stage_seconds["contact sheets + audit"] = time.monotonic() - sheets_started

    print_summary(classes, families, records, tasks, folds, failures, time.monotonic() - started, output, data,
                  stage_seconds)
    return 0


def print_summary(classes, families, records, tasks, folds, failures, seconds, output, data,
                  stage_seconds=None) -> None:
    import hashlib
    per_family = {}
    for class_id, family_id, variant in records:
        entry = per_family.setdefault(family_id, [set(), 0])
        entry[0].add(class_id)
        entry[1] += 1
    print("\nEmojiBench %s" % PACK_NAME)
    print("  classes: %d (%d without flags); images: %d" % (
        len(classes), sum(c.group != "Flags" for c in classes), len(records)))
    print("  %-14s %-8s %8s %8s %8s" % ("family", "role", "classes", "images", "failed"))
    for family_id, spec in enumerate(families):
        covered, count = per_family.get(family_id, [set(), 0])
        print("  %-14s %-8s %8d %8d %8d" % (spec.name, spec.role, len(covered), count, len(failures.get(spec.name, []))))
    print("  %-10s %6s %6s %6s" % ("task", "total", "base", "new"))
    for task in tasks:
        print("  %-10s %6d %6d %6d" % (task.name, len(task.base) + len(task.new), len(task.base), len(task.new)))
    for fold in folds:
        print("  fold %d: train %s | test %s" % (fold.fold_id, ", ".join(families[f].name for f in fold.train_families),
                                                ", ".join(families[f].name for f in fold.test_families)))
    if stage_seconds:
        print("  stages: " + ", ".join("%s %.1f s" % item for item in stage_seconds.items()))
    print("  build time: %.1f s; pack: %s, %.1f MB, sha256 %s" % (
        seconds, output, len(data) / 1e6, hashlib.sha256(data).hexdigest()))


# ------------------------------------------------------------------------------------------
# The tiny committed fixture (synthetic images, real writer)


def synthetic_fixture_pack(side: int = 8):
    """A deterministic mini pack: 8 classes in 2 subgroups × 7 families, one class with 2 skin
    tones in the DOWN families, one class missing from one DOWN family (so not in any task).
    Pure Python (no numpy), so the tests can rebuild it anywhere. Pixel (y, x) of image
    (class c, family f, variant v) = ((37c + 11v) % 256, (53f + 3x) % 256, (7y(c+1) + 5v) % 256)."""
    import protocol

    class_rows = [(i, "Animals & Nature", "animal-mammal" if i < 5 else "animal-bird") for i in range(8)]
    names = ["cat", "dog", "red fox", "black cat", "cow", "bird", "penguin", "eagle"]
    family_specs = [("noto", "down"), ("fluent-flat", "down"), ("noto-v1", "down"), ("openmoji", "down"),
                    ("emojione", "down"), ("twemoji", "pretrain"), ("symbola", "shift")]
    records = []
    for class_id in range(8):
        for family_id, (name, role) in enumerate(family_specs):
            if class_id == 7 and name == "noto-v1":
                continue  # eagle lacks one DOWN family → excluded from the task
            records.append((class_id, family_id, 0))
            if class_id == 1 and role == "down":
                records += [(class_id, family_id, 1), (class_id, family_id, 5)]
    records.sort()
    pixels = bytearray()
    for class_id, family_id, variant in records:
        for y in range(side):
            for x in range(side):
                pixels += bytes(((37 * class_id + 11 * variant) % 256, (53 * family_id + 3 * x) % 256,
                                 (7 * y * (class_id + 1) + 5 * variant) % 256))
    down = [i for i, (_, role) in enumerate(family_specs) if role == "down"]
    complete = [c for c in range(8) if all((c, f, 0) in set(records) for f in down)]
    tasks = protocol.build_tasks(class_rows, complete, (protocol.TaskSpec("animals", subgroups=protocol.ANIMAL_SUBGROUPS),))
    folds = protocol.build_folds(down)
    metadata = {
        "format": "skiptune-emojibench",
        "name": "emojibench-fixture",
        "image_side": side,
        "channels": 3,
        "render": {"synthetic": True},
        "sources": [],
        "classes": [{"id": i, "emoji": chr(0x1F400 + i), "codepoints": "%04X" % (0x1F400 + i), "name": names[i],
                     "keywords": ["animal", "k%d \"quoted\" \\ tab\t" % i] if i == 0 else ["animal"],
                     "group": g, "subgroup": s, "emoji_version": "0.6",
                     "task": "animals" if i in complete else "",
                     "split": ("base" if i in tasks[0].base else "new") if i in complete else ""}
                    for i, g, s in class_rows],
        "families": [{"id": i, "name": n, "title": n.title(), "role": r, "licence": "CC0-1.0 (synthetic)",
                      "attribution": "synthetic test pattern", "source": "synthetic@0", "monochrome": r == "shift",
                      "mapping": "synthetic"} for i, (n, r) in enumerate(family_specs)],
        "variants": variant_entries(records),
        "tasks": [{"name": t.name, "groups": t.groups, "subgroups": t.subgroups, "base": t.base, "new": t.new}
                  for t in tasks],
        "folds": [{"id": f.fold_id, "train_families": f.train_families, "test_families": f.test_families}
                  for f in folds],
        "protocol": {"test_views": protocol.TEST_VIEWS, "shot_families_per_fold": protocol.SHOT_FAMILIES_PER_FOLD},
    }
    return metadata, records, bytes(pixels), side


def write_fixture(path: Path) -> None:
    import packfile
    metadata, records, pixels, side = synthetic_fixture_pack()
    data = packfile.write_pack(path, metadata, records, pixels, side=side)
    print("wrote %s (%d bytes, %d images)" % (path, len(data), len(records)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE), help="default %(default)s")
    parser.add_argument("--sources-dir", help="npm tarballs (default CACHE_DIR/sources)")
    parser.add_argument("--output", help="pack path (default CACHE_DIR/%s.pack)" % PACK_NAME)
    parser.add_argument("--side", type=int, default=32, help="image side in pixels (default 32; 64 works too)")
    parser.add_argument("--margin", type=float, default=0.06, help="margin around the artwork (default 0.06)")
    parser.add_argument("--filter", choices=("lanczos", "box"), default="lanczos", help="downsampling filter")
    parser.add_argument("--skin-tones", choices=("none", "uniform", "all"), default="uniform",
                        help="toned variants to keep: none, the 5 uniform tones (default), or all incl. mixed")
    parser.add_argument("--families", help="comma-separated subset of families (for debugging; changes ids)")
    parser.add_argument("--no-contact-sheets", action="store_true")
    parser.add_argument("--pair-pages", metavar="FAMILIES",
                        help="also write contact_sheets/pairs-FAMILY-NN.png (every image next to Noto) "
                             "for these comma-separated families, or 'all'")
    parser.add_argument("--synthetic-fixture", metavar="PATH",
                        help="write the tiny synthetic test pack to PATH and exit (tests/emojibench/fixtures)")
    args = parser.parse_args(argv)
    if args.synthetic_fixture:
        write_fixture(Path(args.synthetic_fixture))
        return 0
    import_dependencies()
    return build(args)


if __name__ == "__main__":
    sys.exit(main())
