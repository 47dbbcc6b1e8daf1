"""EmojiBench artwork families: where each family's drawings come from and how they map to classes.

Every family yields, per class, a list of *drawables* keyed by variant id (0 = the default
rendering, 1..5 = uniform skin tones, 10*a+b = two different tones). A drawable is either an SVG
document (Iconify sets) or a text run in a font (Noto Color Emoji, Symbola, Unifont).

Mapping rules (see docs/emojibench.md):
- Iconify sets that ship chars.json are mapped by code points (FE0F ignored on both sides).
- Sets without chars.json are mapped by name slug, restricted to emoji that existed in that
  set's Unicode era (`max_emoji_version`), never through an alias whose target is the slug of
  another class (the `cricket` → cricket bat trap), and never when two classes share a slug.
- Monochrome fonts draw only single-code-point emoji that are present in their cmap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import emoji_catalog as catalog

ROLE_PRETRAIN, ROLE_DOWN, ROLE_SHIFT = "pretrain", "down", "shift"


@dataclasses.dataclass(frozen=True)
class FamilySpec:
    name: str               # short id used in the pack, e.g. "noto"
    title: str              # human name
    role: str               # pretrain | down | shift (the role for downstream-task classes)
    licence: str            # SPDX id or short text
    attribution: str        # what the credits file says
    kind: str               # iconify-chars | iconify-slug | color-font | mono-font
    package: str            # npm package or Debian package
    version: str            # pinned npm version ("" for Debian packages: read from dpkg)
    monochrome: bool = False
    slug_style: str = "hyphen"                  # hyphen | squashed (FxEmoji's "oncomingautomobile")
    max_emoji_version: Optional[str] = None     # slug sets: newest emoji version the set can draw
    fonts: Tuple[str, ...] = ()                 # font files, first one that has the glyph wins

    @property
    def source(self) -> str:
        return "%s@%s" % (self.package, self.version)


# Family order = family id in the pack. DOWN families first (their order defines the folds).
FAMILIES: Tuple[FamilySpec, ...] = (
    FamilySpec("noto", "Noto Color Emoji", ROLE_DOWN, "OFL-1.1 (font) / Apache-2.0 (artwork)",
               "Noto Color Emoji, Copyright Google Inc. (Debian fonts-noto-color-emoji)",
               "color-font", "fonts-noto-color-emoji", "",
               fonts=("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",)),
    FamilySpec("fluent-flat", "Fluent Emoji Flat", ROLE_DOWN, "MIT",
               "Fluent Emoji, Copyright (c) Microsoft Corporation (via Iconify)",
               "iconify-chars", "@iconify-json/fluent-emoji-flat", "1.2.6"),
    FamilySpec("noto-v1", "Noto Emoji v1 (old design)", ROLE_DOWN, "Apache-2.0",
               "Noto Emoji (old design), Copyright Google Inc. (via Iconify)",
               "iconify-slug", "@iconify-json/noto-v1", "1.2.5", max_emoji_version="4.0"),
    FamilySpec("openmoji", "OpenMoji", ROLE_DOWN, "CC-BY-SA-4.0",
               "OpenMoji, the open-source emoji and icon project, https://openmoji.org (via Iconify)",
               "iconify-chars", "@iconify-json/openmoji", "1.2.29"),
    FamilySpec("emojione", "EmojiOne 2", ROLE_DOWN, "CC-BY-4.0",
               "Emoji One 2.3, Copyright Ranks.com Inc. / JoyPixels (via Iconify)",
               "iconify-slug", "@iconify-json/emojione", "1.2.3", max_emoji_version="4.0"),
    FamilySpec("twemoji", "Twemoji", ROLE_PRETRAIN, "CC-BY-4.0",
               "Twemoji, Copyright Twitter Inc. and other contributors (via Iconify)",
               "iconify-chars", "@iconify-json/twemoji", "1.2.5"),
    FamilySpec("emojione-v1", "EmojiOne 1", ROLE_PRETRAIN, "CC-BY-SA-4.0",
               "Emoji One 1.5, Copyright Ranks.com Inc. (via Iconify)",
               "iconify-slug", "@iconify-json/emojione-v1", "1.2.3", max_emoji_version="2.0"),
    FamilySpec("fxemoji", "FxEmoji (Firefox OS)", ROLE_PRETRAIN, "Apache-2.0",
               "FxEmoji, Copyright Mozilla Foundation (via Iconify)",
               "iconify-slug", "@iconify-json/fxemoji", "1.2.2", slug_style="squashed",
               max_emoji_version="2.0"),
    FamilySpec("streamline", "Streamline Emojis", ROLE_PRETRAIN, "CC-BY-4.0",
               "Streamline Emojis by Streamline, https://streamlinehq.com (via Iconify)",
               "iconify-slug", "@iconify-json/streamline-emojis", "1.2.4", max_emoji_version="5.0"),
    FamilySpec("symbola", "Symbola (monochrome)", ROLE_SHIFT, "Symbola licence: free for any use",
               "Symbola font by George Douros (Debian fonts-symbola)",
               "mono-font", "fonts-symbola", "", monochrome=True,
               fonts=("/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",)),
    FamilySpec("unifont", "GNU Unifont (monochrome)", ROLE_SHIFT, "GPL-2.0-or-later WITH Font-exception / OFL-1.1",
               "GNU Unifont by Roman Czyborra, Paul Hardy et al. (Debian fonts-unifont)",
               "mono-font", "fonts-unifont", "", monochrome=True,
               fonts=("/usr/share/fonts/opentype/unifont/unifont.otf",
                      "/usr/share/fonts/opentype/unifont/unifont_upper.otf")),
    FamilySpec("fluent-hc", "Fluent Emoji High Contrast (monochrome)", ROLE_SHIFT, "MIT",
               "Fluent Emoji, Copyright (c) Microsoft Corporation (via Iconify)",
               "iconify-chars", "@iconify-json/fluent-emoji-high-contrast", "1.2.6", monochrome=True),
    FamilySpec("emojione-mono", "EmojiOne 2 monotone", ROLE_SHIFT, "CC-BY-4.0",
               "Emoji One 2.2 monotone, Copyright Ranks.com Inc. / JoyPixels (via Iconify)",
               "iconify-slug", "@iconify-json/emojione-monotone", "1.2.1", monochrome=True,
               max_emoji_version="4.0"),
)

# sha256 of the npm tarballs (`npm pack NAME@VERSION`); fetch_sources.sh records the same values.
NPM_SHA256: Dict[str, str] = {
    "@iconify-json/fluent-emoji-flat@1.2.6": "7d064769dee690815f823bc5bcc511d957198caf9f5edd8dd9c1aa48a6aeb175",
    "@iconify-json/noto-v1@1.2.5": "2bf62c26c2c2884aa99e90aec942cdaee17a5921f05690694f4978ad4b017c37",
    "@iconify-json/openmoji@1.2.29": "03181e2c156cab35cf4a62f1f7886bd971d59212e75ac3f189d5a4cae3930fc5",
    "@iconify-json/emojione@1.2.3": "26a14f44284407e8bcde91799388dca2bfd91dbcd55a97f425524a1c5b73610e",
    "@iconify-json/twemoji@1.2.5": "19046dff7d8707ce96212ec86468b36ac5f8e60409629dd13f809265c6d0ebb7",
    "@iconify-json/emojione-v1@1.2.3": "6641d59d48a42823fdc2b84e7427e9f302944eb98d2c7d94d6e67c139e7b37b3",
    "@iconify-json/fxemoji@1.2.2": "f3e72b3c59d05e1db03b7e308d55c0d05bd7ba3f625a90da1b79313c12858eef",
    "@iconify-json/streamline-emojis@1.2.4": "5dac87c876b322500989828c5823143e0100d78881627a2e4081a4b897cbfdbc",
    "@iconify-json/fluent-emoji-high-contrast@1.2.6": "0b92d48c90d2200bd499e3cdd09a127ca6a8c8ddefd34c35eb5a1e4994012ae0",
    "@iconify-json/emojione-monotone@1.2.1": "40b90004bafb406b59266155ef9b7e1dd67bf2947fc8db8d07388776f4d0d04e",
}


class SourceError(RuntimeError):
    """A source file is missing or does not match its recorded checksum (message says what to do)."""


def npm_tarball_name(spec: FamilySpec) -> str:
    return "%s-%s.tgz" % (spec.package.lstrip("@").replace("/", "-"), spec.version)


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass
class Drawable:
    kind: str                    # "svg" | "text"
    payload: str                 # the SVG document, or the text to draw
    font: str = ""               # font file for kind == "text"
    font_size: int = 0
    colour: bool = False         # draw the font's embedded colour bitmaps
    origin: str = ""             # icon name / code points: what the mapping chose (for audits)


# ------------------------------------------------------------------------------------------
# Iconify JSON


@dataclasses.dataclass
class IconifySet:
    icons: Dict[str, dict]
    aliases: Dict[str, dict]
    chars: Dict[str, str]
    categories: Dict[str, str]   # icon name → set category
    width: float
    height: float

    def resolve(self, name: str) -> Optional[Tuple[str, dict]]:
        """Icon body for `name` following plain aliases (aliases with transforms are refused)."""
        seen = set()
        while name in self.aliases and name not in self.icons:
            alias = self.aliases[name]
            if set(alias) - {"parent"} or name in seen:
                return None
            seen.add(name)
            name = alias["parent"]
        icon = self.icons.get(name)
        if icon is None or ("class=" in icon["body"] and "<style" not in icon["body"]):
            return None  # CSS classes whose stylesheet Iconify dropped: would render all black
        return (name, icon)

    def svg(self, icon: dict, size: int) -> str:
        left, top = icon.get("left", 0), icon.get("top", 0)
        width, height = icon.get("width", self.width), icon.get("height", self.height)
        return ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
                'width="%d" height="%d" viewBox="%s %s %s %s">%s</svg>'
                % (size, size, left, top, width, height, icon["body"]))


def read_iconify_tarball(path: Path) -> IconifySet:
    with tarfile.open(path, "r:gz") as archive:
        def member_json(name: str, default):
            try:
                handle = archive.extractfile("package/" + name)
            except KeyError:
                return default
            return json.load(io.TextIOWrapper(handle, encoding="utf-8")) if handle else default
        icons = member_json("icons.json", None)
        if icons is None:
            raise SourceError("%s has no package/icons.json: not an Iconify JSON package" % path)
        chars = member_json("chars.json", {})
        metadata = member_json("metadata.json", {})
    categories = {}
    for category, names in sorted(metadata.get("categories", {}).items()):
        for name in names:
            categories.setdefault(name, category)
    return IconifySet(icons=icons["icons"], aliases=icons.get("aliases", {}), chars=chars,
                      categories=categories, width=icons.get("width", 16), height=icons.get("height", 16))


# ------------------------------------------------------------------------------------------
# Name slugs


def slug(text: str) -> str:
    """CLDR name → Iconify-style slug: lower case, ASCII alphanumerics joined by '-'."""
    text = text.lower().replace("\u2019", "").replace("'", "")
    text = text.replace("#", " number sign ").replace("*", " asterisk ")
    text = re.sub(r"[^\x00-\x7f]", lambda m: _FOLD.get(m.group(0), "-"), text)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


_FOLD = {"\u00e9": "e", "\u00e7": "c", "\u00e3": "a", "\u00ed": "i", "\u00f4": "o", "\u00e5": "a",
         "\u00fc": "u", "\u00f1": "n", "\u00e8": "e", "\u00f3": "o", "\u00e1": "a"}


def name_candidates(name: str, group: str, style: str) -> List[str]:
    """Slugs a set may use for a CLDR name, most specific first."""
    candidates = [slug(name)]
    if group == "Flags" and name.startswith("flag: "):
        candidates.append("flag-for-" + slug(name[len("flag: "):]))
    if style == "squashed":
        candidates = [c.replace("-", "") for c in candidates]
    return candidates


# ------------------------------------------------------------------------------------------
# Mapping classes → drawables


def _variant_names(emoji_class: catalog.EmojiClass) -> List[Tuple[int, Tuple[int, ...], str]]:
    """(variant id, code points, CLDR-style name) for each toned variant of a class."""
    return [(v.variant_id, v.codepoints, v.name) for v in emoji_class.variants]


def keep_variant(variant_id: int, skin_tones: str) -> bool:
    if variant_id == 0:
        return True
    if skin_tones == "none":
        return False
    if skin_tones == "uniform":
        return variant_id < 10
    return True


def map_iconify_chars(iconify: IconifySet, classes: List[catalog.EmojiClass], size: int,
                      skin_tones: str) -> Dict[Tuple[int, int], Drawable]:
    by_key: Dict[Tuple[int, ...], str] = {}
    for key_text, name in sorted(iconify.chars.items()):
        key = catalog.strip_vs16(int(h, 16) for h in key_text.split("-"))
        by_key.setdefault(key, name)
    result: Dict[Tuple[int, int], Drawable] = {}
    for emoji_class in classes:
        wanted = [(0, emoji_class.codepoints)] + [(v, cps) for v, cps, _ in _variant_names(emoji_class)]
        for variant_id, codepoints in wanted:
            if not keep_variant(variant_id, skin_tones):
                continue
            name = by_key.get(catalog.strip_vs16(codepoints))
            resolved = iconify.resolve(name) if name else None
            if resolved:
                result[(emoji_class.class_id, variant_id)] = Drawable(
                    "svg", iconify.svg(resolved[1], size), origin=resolved[0])
    return result


def map_iconify_slugs(iconify: IconifySet, spec: FamilySpec, classes: List[catalog.EmojiClass],
                      size: int, skin_tones: str,
                      unicode_names: Optional[Dict[int, str]] = None) -> Dict[Tuple[int, int], Drawable]:
    """Slug mapping with the safety rules in the module doc."""
    newest = catalog.emoji_version_key(spec.max_emoji_version or "99.0")
    eligible = [c for c in classes if catalog.emoji_version_key(c.emoji_version) <= newest]
    # Every name a class (or one of its variants) could claim; a name claimed twice is ambiguous.
    wanted: List[Tuple[int, int, List[str]]] = []
    for emoji_class in eligible:
        names = name_candidates(emoji_class.name, emoji_class.group, spec.slug_style)
        if spec.slug_style == "squashed":
            names = _squashed_candidates(emoji_class, names, iconify, unicode_names or {})
        wanted.append((emoji_class.class_id, 0, names))
        for variant_id, _, variant_name in _variant_names(emoji_class):
            if keep_variant(variant_id, skin_tones):
                wanted.append((emoji_class.class_id, variant_id,
                               name_candidates(variant_name, emoji_class.group, spec.slug_style)))
    claims: Dict[str, set] = {}
    for class_id, variant_id, names in wanted:
        for name in names:
            claims.setdefault(name, set()).add((class_id, variant_id))
    # Slugs of *all* classes (not only eligible ones): an alias may not point at another class.
    all_class_slugs = {}
    for emoji_class in classes:
        for name in name_candidates(emoji_class.name, emoji_class.group, spec.slug_style):
            all_class_slugs.setdefault(name, emoji_class.class_id)
    numbered = _numbered_icons(iconify) if spec.name == "streamline" else {}

    result: Dict[Tuple[int, int], Drawable] = {}
    used_icons: Dict[str, Tuple[int, int]] = {}
    for class_id, variant_id, names in wanted:
        for name in names:
            if len(claims[name]) > 1:
                continue
            icon_name = name if name in iconify.icons else numbered.get(name)
            if icon_name is None and name in iconify.aliases:
                target = iconify.aliases[name].get("parent", "")
                owner = all_class_slugs.get(target)
                if owner is not None and owner != class_id:
                    continue  # e.g. alias "cricket" → "cricket-game": the bat, not the insect
                icon_name = name
            if icon_name is None:
                continue
            resolved = iconify.resolve(icon_name)
            if resolved is None or resolved[0] in used_icons:
                continue
            if _is_flag_category(iconify, resolved[0], icon_name) and classes[class_id].group != "Flags":
                continue  # e.g. Streamline's "turkey" is the flag of Türkiye, not the bird
            used_icons[resolved[0]] = (class_id, variant_id)
            result[(class_id, variant_id)] = Drawable("svg", iconify.svg(resolved[1], size),
                                                      origin=resolved[0])
            break
    return result


def _is_flag_category(iconify: IconifySet, *names: str) -> bool:
    return any("flag" in iconify.categories.get(name, "").lower() for name in names)


def _squashed_candidates(emoji_class: catalog.EmojiClass, names: List[str], iconify: IconifySet,
                         unicode_names: Dict[int, str]) -> List[str]:
    """FxEmoji's names are Mozilla's own: mostly squashed Unicode character names, but an animal
    drawn whole is "<animal>side" while plain "<animal>" is its face (tiger/tigerside). So: the
    Unicode name first, then the CLDR name; "<x> face" may use "<x>" only when "<x>side" exists,
    and "<x>" must use "<x>side" when that exists. Curated overrides come last (FXEMOJI_*)."""
    override = FXEMOJI_OVERRIDES.get(emoji_class.name)
    if override is not None:
        return [override] if override else []
    candidates = []
    if len(emoji_class.key) == 1 and emoji_class.key[0] in unicode_names:
        candidates.append(slug(unicode_names[emoji_class.key[0]]).replace("-", ""))
    candidates += names
    result = []
    for name in candidates:
        if name + "side" in iconify.icons:
            name = name + "side"
        elif name.endswith("face") and name[:-4] + "side" in iconify.icons:
            name = name[:-4]
        if name not in result and name not in FXEMOJI_REJECTED:
            result.append(name)
    return result


# Found by eyeballing every FxEmoji mapping next to Noto (contact_sheets/audit-fxemoji-*.png):
# names that draw something else than the CLDR class of the same name.
FXEMOJI_REJECTED = frozenset({"kiss"})
# class name → FxEmoji icon ("" = never map this class).
FXEMOJI_OVERRIDES: Dict[str, str] = {"kiss": "couplekiss", "rabbit": "bunnyside", "rabbit face": "bunny"}


def _numbered_icons(iconify: IconifySet) -> Dict[str, str]:
    """Streamline draws some emoji twice ("baby-1", "baby-2"): map "baby" to its first drawing."""
    first: Dict[str, Tuple[int, str]] = {}
    for name in iconify.icons:
        match = re.fullmatch(r"(.+)-(\d)", name)
        if match and match.group(1) not in iconify.icons:
            number = int(match.group(2))
            if match.group(1) not in first or number < first[match.group(1)][0]:
                first[match.group(1)] = (number, name)
    return {base: name for base, (_, name) in first.items()}


def font_cmap(path: str) -> set:
    from fontTools.ttLib import TTFont  # Debian python3-fonttools
    font = TTFont(path, lazy=True)
    return set(font.getBestCmap().keys())


def map_mono_font(spec: FamilySpec, classes: List[catalog.EmojiClass], size: int) -> Dict[Tuple[int, int], Drawable]:
    cmaps = [(path, font_cmap(path)) for path in spec.fonts]
    result = {}
    for emoji_class in classes:
        if len(emoji_class.key) != 1:
            continue
        codepoint = emoji_class.key[0]
        for path, cmap in cmaps:
            if codepoint in cmap:
                result[(emoji_class.class_id, 0)] = Drawable(
                    "text", chr(codepoint), font=path, font_size=size, origin="U+%04X" % codepoint)
                break
    return result


def map_color_font(spec: FamilySpec, classes: List[catalog.EmojiClass], skin_tones: str) -> Dict[Tuple[int, int], Drawable]:
    """Noto Color Emoji: every sequence, shaped by raqm; the renderer refuses multi-glyph results."""
    result = {}
    for emoji_class in classes:
        wanted = [(0, emoji_class.codepoints)] + [(v, cps) for v, cps, _ in _variant_names(emoji_class)]
        for variant_id, codepoints in wanted:
            if keep_variant(variant_id, skin_tones):
                result[(emoji_class.class_id, variant_id)] = Drawable(
                    "text", "".join(chr(c) for c in codepoints), font=spec.fonts[0], font_size=109,
                    colour=True, origin=" ".join("%04X" % c for c in codepoints))
    return result
