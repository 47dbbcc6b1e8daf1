"""EmojiBench class universe: emoji classes from Unicode's emoji-test.txt, text from CLDR.

A *class* is one fully-qualified emoji without skin-tone modifiers (Unicode 15.0: 1,870 of
them). Skin-toned sequences are kept as *variants* of their base class. Class order is the
order of emoji-test.txt (CLDR order), which keeps related emoji next to each other; the class
id is the position in that order.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

SKIN_TONE_MODIFIERS = (0x1F3FB, 0x1F3FC, 0x1F3FD, 0x1F3FE, 0x1F3FF)
SKIN_TONE_NAMES = ("light skin tone", "medium-light skin tone", "medium skin tone",
                   "medium-dark skin tone", "dark skin tone")
VARIATION_SELECTOR_16 = 0xFE0F


@dataclasses.dataclass
class EmojiVariant:
    """A skin-toned rendering of a class: `tones` is one modifier index (1..5) per modifier."""
    codepoints: Tuple[int, ...]
    tones: Tuple[int, ...]
    name: str = ""                  # CLDR name, e.g. "thumbs up: light skin tone"

    @property
    def uniform(self) -> bool:
        return len(set(self.tones)) == 1

    @property
    def variant_id(self) -> int:
        """1..5 for one tone (or the same tone everywhere); 10*a+b for two different tones."""
        if self.uniform:
            return self.tones[0]
        return 10 * self.tones[0] + self.tones[1]


@dataclasses.dataclass
class EmojiClass:
    codepoints: Tuple[int, ...]
    name: str                       # CLDR short name, e.g. "red apple"
    group: str                      # e.g. "Food & Drink"
    subgroup: str                   # e.g. "food-fruit"
    emoji_version: str              # e.g. "0.6"
    keywords: List[str] = dataclasses.field(default_factory=list)
    variants: List[EmojiVariant] = dataclasses.field(default_factory=list)
    class_id: int = -1

    @property
    def emoji(self) -> str:
        return "".join(chr(cp) for cp in self.codepoints)

    @property
    def key(self) -> Tuple[int, ...]:
        return strip_vs16(self.codepoints)

    @property
    def codepoint_text(self) -> str:
        return " ".join("%04X" % cp for cp in self.codepoints)


def strip_vs16(codepoints: Iterable[int]) -> Tuple[int, ...]:
    """Code points without U+FE0F: the key every source is matched on."""
    return tuple(cp for cp in codepoints if cp != VARIATION_SELECTOR_16)


def strip_skin_tones(codepoints: Iterable[int]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(code points without modifiers, the modifiers' tone indices 1..5 in order)."""
    rest, tones = [], []
    for cp in codepoints:
        if cp in SKIN_TONE_MODIFIERS:
            tones.append(SKIN_TONE_MODIFIERS.index(cp) + 1)
        else:
            rest.append(cp)
    return tuple(rest), tuple(tones)


def emoji_version_key(version: str) -> Tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


_TEST_LINE = re.compile(
    r"^(?P<cps>[0-9A-Fa-f ]+?)\s*;\s*(?P<status>[a-z-]+)\s*#\s*\S+\s+E(?P<version>\d+\.\d+)\s+(?P<name>.+?)\s*$")


def parse_emoji_test(text: str) -> List[EmojiClass]:
    """Fully-qualified emoji without skin tones, in file order, with toned variants attached."""
    group = subgroup = ""
    classes: List[EmojiClass] = []
    toned: List[Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...], str]] = []
    for line in text.splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
            continue
        if line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
            continue
        if not line or line.startswith("#"):
            continue
        match = _TEST_LINE.match(line)
        if match is None:
            raise ValueError("emoji-test.txt: cannot parse line %r" % line)
        if match["status"] != "fully-qualified" or group == "Component":
            continue
        codepoints = tuple(int(h, 16) for h in match["cps"].split())
        base, tones = strip_skin_tones(codepoints)
        if tones:
            toned.append((strip_vs16(base), codepoints, tones, match["name"]))
            continue
        classes.append(EmojiClass(codepoints=codepoints, name=match["name"], group=group,
                                  subgroup=subgroup, emoji_version=match["version"]))
    by_key = {c.key: c for c in classes}
    for base_key, codepoints, tones, name in toned:
        owner = by_key.get(base_key)
        if owner is None:  # e.g. a toned form whose untoned form is not RGI: no class for it
            continue
        owner.variants.append(EmojiVariant(codepoints=codepoints, tones=tones, name=name))
    for class_id, emoji_class in enumerate(classes):
        emoji_class.class_id = class_id
        emoji_class.variants.sort(key=lambda v: (not v.uniform, v.tones))
    return classes


def parse_cldr_annotations(texts: Iterable[str]) -> Dict[Tuple[int, ...], Tuple[Optional[str], List[str]]]:
    """CLDR annotation XML documents → {code points without FE0F: (tts name, keywords)}.

    Later documents override earlier ones entry by entry (pass annotations, then derived)."""
    result: Dict[Tuple[int, ...], Tuple[Optional[str], List[str]]] = {}
    for text in texts:
        root = ElementTree.fromstring(text)
        for node in root.iter("annotation"):
            key = strip_vs16(ord(ch) for ch in node.get("cp", ""))
            value = (node.text or "").strip()
            name, keywords = result.get(key, (None, []))
            if node.get("type") == "tts":
                name = value
            else:
                keywords = [k.strip() for k in value.split("|") if k.strip()]
            result[key] = (name, keywords)
    return result


def attach_keywords(classes: List[EmojiClass],
                    annotations: Dict[Tuple[int, ...], Tuple[Optional[str], List[str]]]) -> int:
    """Give each class its CLDR keywords (minus the ones equal to its name). Returns how many got some."""
    found = 0
    for emoji_class in classes:
        _, keywords = annotations.get(emoji_class.key, (None, []))
        kept, seen = [], {emoji_class.name.lower()}
        for keyword in keywords:
            if keyword.lower() not in seen:
                seen.add(keyword.lower())
                kept.append(keyword)
        emoji_class.keywords = kept
        found += bool(kept)
    return found


def load_catalog(emoji_test: Path, annotation_files: Iterable[Path]) -> List[EmojiClass]:
    classes = parse_emoji_test(emoji_test.read_text(encoding="utf-8"))
    annotations = parse_cldr_annotations(p.read_text(encoding="utf-8") for p in annotation_files)
    attach_keywords(classes, annotations)
    return classes


def parse_unicode_names(text: str) -> Dict[int, str]:
    """UnicodeData.txt → {code point: character name} (ranges and controls are skipped)."""
    names: Dict[int, str] = {}
    for line in text.splitlines():
        fields = line.split(";")
        if len(fields) > 1 and not fields[1].startswith("<"):
            names[int(fields[0], 16)] = fields[1]
    return names
