"""Tests of the EmojiBench builder (tools/emojibench) that run in seconds without the real
sources: Unicode / CLDR parsing on committed excerpts, the name-mapping safety rules, tasks,
folds and the few-shot sampler, and the pack writer (determinism, verification, atomic write).

Run: /usr/bin/python3 -m unittest discover -s tests/emojibench -p 'test_*.py'
(Standard library only; the rendering test runs when python3-numpy and python3-pil are present.)
"""

import hashlib
import itertools
import os
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tools" / "emojibench"))

import artwork  # noqa: E402
import build_pack  # noqa: E402
import emoji_catalog as catalog  # noqa: E402
import packfile  # noqa: E402
import protocol  # noqa: E402

FIXTURES = HERE / "fixtures"

try:
    import numpy  # noqa: F401
    import PIL  # noqa: F401
    HAVE_IMAGING = True
except ImportError:
    HAVE_IMAGING = False


def load_excerpt_catalog():
    return catalog.load_catalog(FIXTURES / "emoji-test-excerpt.txt",
                                [FIXTURES / "cldr-annotations-excerpt.xml",
                                 FIXTURES / "cldr-annotations-derived-excerpt.xml"])


class EmojiTestParsing(unittest.TestCase):
    def setUp(self):
        self.classes = load_excerpt_catalog()
        self.by_name = {c.name: c for c in self.classes}

    def test_keeps_fully_qualified_without_skin_tones_in_file_order(self):
        self.assertEqual([c.name for c in self.classes], [
            "grinning face", "grinning face with big eyes", "grinning face with smiling eyes", "smiling face",
            "thumbs up", "thumbs down", "people holding hands", "grapes", "melon", "keycap: #",
            "flag: United States"])
        self.assertEqual([c.class_id for c in self.classes], list(range(len(self.classes))))

    def test_groups_versions_and_code_points(self):
        smiling = self.by_name["smiling face"]
        self.assertEqual(smiling.codepoints, (0x263A, 0xFE0F))
        self.assertEqual(smiling.key, (0x263A,))
        self.assertEqual((smiling.group, smiling.subgroup, smiling.emoji_version),
                         ("Smileys & Emotion", "face-smiling", "0.6"))
        self.assertEqual(self.by_name["grinning face"].emoji_version, "1.0")
        self.assertEqual(self.by_name["keycap: #"].codepoints, (0x23, 0xFE0F, 0x20E3))
        self.assertEqual(self.by_name["flag: United States"].group, "Flags")

    def test_skin_tones_become_variants_of_their_base_class(self):
        thumbs = self.by_name["thumbs up"]
        self.assertEqual([v.variant_id for v in thumbs.variants], [1, 2, 3, 4, 5])
        self.assertTrue(all(v.uniform for v in thumbs.variants))
        self.assertEqual(thumbs.variants[0].name, "thumbs up: light skin tone")
        holding = self.by_name["people holding hands"]
        self.assertEqual([(v.tones, v.variant_id, v.uniform) for v in holding.variants],
                         [((1, 1), 1, True), ((1, 2), 12, False)])
        self.assertEqual(self.by_name["grapes"].variants, [])

    def test_cldr_keywords_exclude_the_name_and_match_without_fe0f(self):
        self.assertEqual(self.by_name["grinning face"].keywords, ["face", "grin"])
        self.assertEqual(self.by_name["smiling face"].keywords, ["face", "outlined", "relaxed", "smile"])
        self.assertEqual(self.by_name["thumbs up"].keywords, ["+1", "hand", "thumb", "up"])
        self.assertEqual(self.by_name["keycap: #"].keywords, ["keycap"])            # derived file
        self.assertEqual(self.by_name["flag: United States"].keywords, ["flag"])
        self.assertEqual(self.by_name["people holding hands"].keywords, [])           # not in excerpt

    def test_annotation_names_and_later_files_override(self):
        annotations = catalog.parse_cldr_annotations([
            (FIXTURES / "cldr-annotations-excerpt.xml").read_text(encoding="utf-8"),
            (FIXTURES / "cldr-annotations-derived-excerpt.xml").read_text(encoding="utf-8")])
        self.assertEqual(annotations[(ord("&"),)], ("ampersand", ["ampersand", "and", "et"]))
        self.assertEqual(annotations[(0x1F44D, 0x1F3FB)][0], "thumbs up: light skin tone")

    def test_bad_line_is_reported(self):
        with self.assertRaises(ValueError):
            catalog.parse_emoji_test("# group: X\n# subgroup: y\nnot a line\n")


def iconify(icons, aliases=None, chars=None, categories=None):
    return artwork.IconifySet(icons={n: {"body": '<path d="M0 0h%dv1H0z"/>' % (i + 1)} for i, n in enumerate(icons)},
                              aliases=aliases or {}, chars=chars or {}, categories=categories or {},
                              width=16, height=16)


def make_class(class_id, name, version="0.6", group="Animals & Nature", codepoints=None):
    return catalog.EmojiClass(codepoints=codepoints or (0x1F400 + class_id,), name=name, group=group,
                              subgroup="animal-bug", emoji_version=version, class_id=class_id)


class NameMapping(unittest.TestCase):
    spec = artwork.FamilySpec("old", "Old set", artwork.ROLE_PRETRAIN, "MIT", "", "iconify-slug", "@x/old", "1.0",
                              max_emoji_version="4.0")

    def test_slugs(self):
        self.assertEqual(artwork.slug("woman\u2019s hat"), "womans-hat")
        self.assertEqual(artwork.slug("keycap: #"), "keycap-number-sign")
        self.assertEqual(artwork.slug("keycap: *"), "keycap-asterisk")
        self.assertEqual(artwork.slug("pi\u00f1ata"), "pinata")
        self.assertEqual(artwork.name_candidates("flag: United States", "Flags", "hyphen"),
                         ["flag-united-states", "flag-for-united-states"])
        self.assertEqual(artwork.name_candidates("red apple", "Food & Drink", "squashed"), ["redapple"])

    def test_cricket_alias_never_maps_the_insect_to_the_bat(self):
        classes = [make_class(0, "cricket", version="5.0"), make_class(1, "cricket game", version="1.0")]
        icons = iconify(["cricket-game"], aliases={"cricket": {"parent": "cricket-game"}})
        for spec in (self.spec, artwork.FamilySpec("any", "", "pretrain", "", "", "iconify-slug", "@x/any", "1")):
            mapped = artwork.map_iconify_slugs(icons, spec, classes, 128, "none")
            self.assertEqual(sorted(mapped), [(1, 0)], spec.name)
            self.assertEqual(mapped[(1, 0)].origin, "cricket-game")

    def test_emoji_newer_than_the_set_are_not_mapped(self):
        classes = [make_class(0, "window", version="13.0"), make_class(1, "bear")]
        mapped = artwork.map_iconify_slugs(iconify(["window", "bear"]), self.spec, classes, 128, "none")
        self.assertEqual(sorted(mapped), [(1, 0)])

    def test_plain_alias_is_followed_when_it_points_at_no_other_class(self):
        classes = [make_class(0, "bear")]
        mapped = artwork.map_iconify_slugs(iconify(["bear-face"], aliases={"bear": {"parent": "bear-face"}}),
                                           self.spec, classes, 128, "none")
        self.assertEqual(mapped[(0, 0)].origin, "bear-face")

    def test_a_flag_icon_never_draws_a_non_flag_class(self):
        classes = [make_class(0, "turkey")]
        icons = iconify(["turkey"], categories={"turkey": "Flags"})
        self.assertEqual(artwork.map_iconify_slugs(icons, self.spec, classes, 128, "none"), {})

    def test_ambiguous_slugs_are_dropped(self):
        classes = [make_class(0, "keycap: ?"), make_class(1, "keycap: !")]  # both slug to "keycap"
        self.assertEqual(artwork.map_iconify_slugs(iconify(["keycap"]), self.spec, classes, 128, "none"), {})

    def test_icons_whose_stylesheet_was_dropped_are_refused(self):
        icons = iconify(["tram-car"])
        icons.icons["tram-car"]["body"] = '<path class="st0" d="M0 0h1v1H0z"/>'
        self.assertIsNone(icons.resolve("tram-car"))

    def test_fxemoji_side_rule(self):
        classes = [make_class(0, "tiger face"), make_class(1, "tiger")]
        spec = artwork.FamilySpec("fxemoji", "", "pretrain", "", "", "iconify-slug", "@x/fx", "1",
                                  slug_style="squashed", max_emoji_version="2.0")
        mapped = artwork.map_iconify_slugs(iconify(["tiger", "tigerside"]), spec, classes, 128, "none", {})
        self.assertEqual(mapped[(0, 0)].origin, "tiger")
        self.assertEqual(mapped[(1, 0)].origin, "tigerside")

    def test_code_point_mapping_ignores_fe0f_and_keeps_skin_tones(self):
        classes = load_excerpt_catalog()
        chars = {"263a": "smiling-face", "23-20e3": "keycap-number-sign", "1f44d": "thumbs-up",
                 "1f44d-1f3fb": "thumbs-up-light", "1f9d1-1f3fb-200d-1f91d-200d-1f9d1-1f3fc": "mixed"}
        icons = iconify(sorted(set(chars.values())), chars=chars)
        by_name = {c.name: c.class_id for c in classes}
        uniform = artwork.map_iconify_chars(icons, classes, 128, "uniform")
        self.assertEqual(sorted(uniform), sorted([(by_name["smiling face"], 0), (by_name["keycap: #"], 0),
                                                  (by_name["thumbs up"], 0), (by_name["thumbs up"], 1)]))
        everything = artwork.map_iconify_chars(icons, classes, 128, "all")
        self.assertIn((by_name["people holding hands"], 12), everything)
        none = artwork.map_iconify_chars(icons, classes, 128, "none")
        self.assertNotIn((by_name["thumbs up"], 1), none)

    def test_family_table_is_consistent(self):
        names = [f.name for f in artwork.FAMILIES]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(sum(f.role == artwork.ROLE_DOWN for f in artwork.FAMILIES), 5)
        for spec in artwork.FAMILIES:
            if spec.kind.startswith("iconify"):
                self.assertIn(spec.source, artwork.NPM_SHA256)
        script = (REPO / "tools" / "emojibench" / "fetch_sources.sh").read_text(encoding="utf-8")
        for source, digest in artwork.NPM_SHA256.items():
            self.assertIn("%s %s" % (source, digest), script)  # fetch_sources.sh pins the same tarballs


class Protocol(unittest.TestCase):
    def test_tasks_alternate_base_and_new_within_each_subgroup(self):
        rows = [(0, "Food & Drink", "food-fruit"), (1, "Food & Drink", "food-fruit"), (2, "Food & Drink", "food-fruit"),
                (3, "Food & Drink", "drink"), (4, "Food & Drink", "drink"), (5, "Objects", "tool")]
        tasks = protocol.build_tasks(rows, complete=[0, 1, 2, 3, 4, 5],
                                     specs=(protocol.TaskSpec("food", groups=("Food & Drink",)),))
        self.assertEqual((tasks[0].base, tasks[0].new), ([0, 2, 3], [1, 4]))
        self.assertEqual(tasks[0].subgroups, ["food-fruit", "drink"])
        incomplete = protocol.build_tasks(rows, complete=[0, 2, 3, 4],
                                          specs=(protocol.TaskSpec("food", groups=("Food & Drink",)),))
        self.assertEqual((incomplete[0].base, incomplete[0].new), ([0, 3], [2, 4]))

    def test_folds_test_every_down_family_and_never_train_on_it(self):
        folds = protocol.build_folds([0, 1, 2, 3, 4])
        self.assertEqual(len(folds), 3)
        tested = set()
        for fold in folds:
            self.assertEqual(len(fold.train_families), 3)
            self.assertEqual(len(fold.test_families), 2)
            self.assertFalse(set(fold.train_families) & set(fold.test_families))
            tested |= set(fold.test_families)
        self.assertEqual(tested, {0, 1, 2, 3, 4})

    def test_shots_and_test_images_never_share_an_artwork_family(self):
        down = [0, 1, 2, 3, 4]
        # Class c has (c % 4) extra skin-tone renderings in every DOWN family.
        records = [(c, f, v) for c in range(12) for f in down + [5, 6] for v in [0] + list(range(1, 1 + c % 4))]
        table = protocol.renderings(records)
        for fold, shots in itertools.product(protocol.build_folds(down), range(1, 17)):
            shot_images = protocol.shot_plan(range(12), fold, shots, table)
            test_images = protocol.test_plan(range(12), fold, table)
            self.assertEqual(len(shot_images), 12 * shots)
            self.assertEqual(len(test_images), 12 * 2 * protocol.TEST_VIEWS)
            shot_families = {p.family_id for p in shot_images}
            self.assertFalse(shot_families & {p.family_id for p in test_images})
            self.assertTrue(shot_families <= set(fold.train_families))
            for p in shot_images:
                self.assertIn(p.variant, table[(p.class_id, p.family_id)])
            # No (image, augmentation) is drawn twice for a class.
            drawn = [(p.class_id, p.family_id, p.variant, p.augmentation) for p in shot_images]
            self.assertEqual(len(drawn), len(set(drawn)))

    def test_shot_rule(self):
        fold = protocol.Fold(0, [2, 3, 4], [0, 1])
        table = protocol.renderings([(0, f, 0) for f in range(5)] + [(0, 2, 1)])
        plan = protocol.shot_plan([0], fold, 7, table)
        self.assertEqual([(p.family_id, p.variant, p.augmentation) for p in plan],
                         [(2, 0, 0), (3, 0, 0), (4, 0, 0), (2, 1, 0), (3, 0, 1), (4, 0, 1), (2, 0, 1)])


class PackFile(unittest.TestCase):
    def mini_pack(self):
        metadata, records, pixels, side = build_pack.synthetic_fixture_pack()
        return packfile.pack_bytes(metadata, records, pixels, side=side)

    def test_same_inputs_give_the_same_bytes(self):
        first, second = self.mini_pack(), self.mini_pack()
        self.assertEqual(hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest())

    def test_committed_fixture_matches_the_writer(self):
        committed = packfile.read_pack(FIXTURES / "emojibench-fixture.pack")
        fresh = packfile.read_pack_bytes(self.mini_pack())
        # Content, not bytes: another zlib build may compress the same pixels differently.
        self.assertEqual(committed.metadata, fresh.metadata)
        self.assertEqual(committed.records, fresh.records)
        self.assertEqual(committed.pixels, fresh.pixels)

    def test_round_trip_and_verification(self):
        data = self.mini_pack()
        pack = packfile.read_pack_bytes(data)
        self.assertEqual((pack.side, pack.channels, len(pack.records)), (8, 3, 65))
        self.assertEqual(pack.metadata["classes"][1]["name"], "dog")
        self.assertEqual(pack.image(0)[:3], bytes((0, 0, 0)))
        for at in (10, 70, len(data) // 2, len(data) - 1):
            damaged = bytearray(data)
            damaged[at] ^= 1
            with self.assertRaises(packfile.PackError):
                packfile.read_pack_bytes(bytes(damaged))
        with self.assertRaisesRegex(packfile.PackError, "truncated"):
            packfile.read_pack_bytes(data[:-1])
        wrong_version = bytearray(data)
        wrong_version[8] = 2
        with self.assertRaisesRegex(packfile.PackError, "version 2, expected 1"):
            packfile.read_pack_bytes(bytes(wrong_version))

    def test_records_must_be_sorted_and_unique(self):
        with self.assertRaises(packfile.PackError):
            packfile.pack_bytes({}, [(1, 0, 0), (0, 0, 0)], bytes(2 * 3), side=1)
        with self.assertRaises(packfile.PackError):
            packfile.pack_bytes({}, [(0, 0, 0), (0, 0, 0)], bytes(2 * 3), side=1)

    def test_atomic_write_leaves_only_the_target(self):
        with tempfile.TemporaryDirectory() as directory:
            target = Path(directory) / "mini.pack"
            target.write_bytes(b"old")
            packfile.write_atomically(target, self.mini_pack())
            self.assertEqual(os.listdir(directory), ["mini.pack"])
            packfile.read_pack(target)

            with mock.patch.object(packfile.os, "replace", side_effect=KeyboardInterrupt):
                with self.assertRaises(KeyboardInterrupt):  # interrupted just before the rename
                    packfile.write_atomically(target, b"new but never visible")
            self.assertEqual(os.listdir(directory), ["mini.pack"])  # old pack intact, no temp file
            packfile.read_pack(target)


@unittest.skipUnless(HAVE_IMAGING, "needs python3-numpy and python3-pil (Debian)")
class Rendering(unittest.TestCase):
    def synthetic(self):
        import numpy as np
        image = np.zeros((128, 128, 4), np.uint8)      # premultiplied RGBA, transparent
        image[10:40, 70:120] = (200, 0, 0, 255)        # an opaque red bar in a corner
        image[40:50, 70:120] = (0, 50, 0, 100)         # a translucent green strip under it
        return image

    def test_crop_centre_and_white_background(self):
        import numpy as np
        import render
        out = render.Renderer(side=32).finish(self.synthetic())
        self.assertEqual(out.shape, (32, 32, 3))
        self.assertEqual(out.dtype, np.uint8)
        self.assertTrue((out[0, 0] == 255).all() and (out[-1, -1] == 255).all())   # margin is white
        red = (out[..., 0] > 150) & (out[..., 1] < 100)
        cols = np.flatnonzero(red.any(axis=0))
        self.assertLessEqual(abs((cols[0] + cols[-1]) / 2 - 15.5), 1.0)            # centred horizontally
        self.assertLessEqual(cols[0], 3)                                             # ~6 % margin
        ink = np.flatnonzero((out < 250).any(axis=2).any(axis=1))                   # red + green rows
        self.assertLessEqual(abs((ink[0] + ink[-1]) / 2 - 15.5), 1.0)               # centred vertically

    def test_rendering_is_deterministic_and_packs_identically(self):
        import numpy as np
        import render
        renderer = render.Renderer(side=32)
        images = np.stack([renderer.finish(np.roll(self.synthetic(), k, axis=1)) for k in range(3)])
        again = np.stack([renderer.finish(np.roll(self.synthetic(), k, axis=1)) for k in range(3)])
        self.assertTrue((images == again).all())
        records = [(0, 0, 0), (0, 1, 0), (1, 0, 0)]
        self.assertEqual(packfile.pack_bytes({"name": "mini"}, records, images),
                         packfile.pack_bytes({"name": "mini"}, records, again))
        self.assertEqual(packfile.read_pack_bytes(packfile.pack_bytes({}, records, images)).pixels, images.tobytes())

    def test_nothing_visible_is_an_error(self):
        import numpy as np
        import render
        with self.assertRaises(render.RenderError):
            render.Renderer().finish(np.zeros((16, 16, 4), np.uint8))


if __name__ == "__main__":
    unittest.main()
