#!/usr/bin/env python3
"""Generate skiptune's Unicode and HTML-entity tables for the CLIP tokenizer.

Writes two headers (committed to the repo, so nobody needs this script to build):
  include/skiptune/io/unicode_tables.hpp  — character classes, lowercase mapping, NFC data,
                                            ftfy's width map; from Debian's `unicode-data`
                                            package (/usr/share/unicode, Unicode 15.0 on bookworm)
  include/skiptune/io/html_entities.hpp   — Python's html.entities.html5 table plus the rules
                                            of html.unescape for numeric references

Run with Debian's Python:  /usr/bin/python3 scripts/gen_unicode_tables.py
Needs: apt-get install unicode-data   (python3-regex is optional: used for a cross-check)

Every table is cross-checked against the running Python (str.lower, str.isspace,
unicodedata.normalize, html.unescape); differences are printed. Python 3.11's unicodedata is
Unicode 14.0 while the files are 15.0, so the only expected differences concern code points
that are new in 15.0 (the script says so explicitly when that is the case).
"""
import argparse
import html
import html.entities
import os
import sys
import unicodedata

UNICODE_DIR = "/usr/share/unicode"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


# ---------------------------------------------------------------------------- readers
def read_unicode_data(path):
    """Return {cp: fields} for every assigned code point, expanding <..., First>/<..., Last> ranges."""
    records = {}
    range_start = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            cp = int(fields[0], 16)
            name = fields[1]
            if name.endswith(", First>"):
                range_start = cp
                continue
            if name.endswith(", Last>"):
                for c in range(range_start, cp + 1):
                    records[c] = fields
                range_start = None
                continue
            records[cp] = fields
    return records


def read_property_file(path, wanted):
    """Return {property: set(cp)} from a PropList-style file (`XXXX..YYYY ; Prop # ...`)."""
    out = {p: set() for p in wanted}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = [p.strip() for p in line.split(";")]
            if parts[1] not in out:
                continue
            if ".." in parts[0]:
                a, b = parts[0].split("..")
                out[parts[1]].update(range(int(a, 16), int(b, 16) + 1))
            else:
                out[parts[1]].add(int(parts[0], 16))
    return out


def read_special_lowercase(path):
    """Unconditional full lowercase mappings from SpecialCasing.txt (as CPython's makeunicodedata)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = [p.strip() for p in line.split(";")]
            # code; lower; title; upper; (condition;)? — conditional entries are language or
            # context rules (Final_Sigma is handled in code, like CPython does).
            if len(parts) > 4 and parts[4]:
                continue
            out[int(parts[0], 16)] = [int(x, 16) for x in parts[1].split()]
    return out


def unicode_version():
    with open(os.path.join(UNICODE_DIR, "DerivedAge.txt"), encoding="utf-8") as f:
        first = f.readline()
    # "# DerivedAge-15.0.0.txt"
    return first.strip().split("-", 1)[1].rsplit(".txt", 1)[0]


# ---------------------------------------------------------------------------- helpers
def to_ranges(cps):
    cps = sorted(cps)
    ranges = []
    for c in cps:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return ranges


def to_valued_ranges(mapping):
    """{cp: value} -> [(first, last, value)] for runs of consecutive code points with one value."""
    out = []
    for c in sorted(mapping):
        v = mapping[c]
        if out and out[-1][1] == c - 1 and out[-1][2] == v:
            out[-1][1] = c
        else:
            out.append([c, c, v])
    return out


def delta_runs(mapping):
    """{cp: target} -> [(first, last, delta, stride)]: runs where target = cp + delta, stepping by stride."""
    items = sorted(mapping.items())
    runs = []
    i = 0
    while i < len(items):
        c, t = items[i]
        delta = t - c
        best = (c, c, delta, 1, 1)  # first, last, delta, stride, count
        for stride in (1, 2):
            j = i + 1
            last = c
            count = 1
            while j < len(items) and items[j][0] == last + stride and items[j][1] - items[j][0] == delta:
                last = items[j][0]
                count += 1
                j += 1
            if count > best[4]:
                best = (c, last, delta, stride, count)
        runs.append(best[:4])
        i += best[4]
    return runs


def fmt_rows(items, per_line, indent="    "):
    lines = []
    for i in range(0, len(items), per_line):
        lines.append(indent + ", ".join(items[i:i + per_line]) + ",")
    return "\n".join(lines)


def hx(v):
    return "0x%X" % v


# ---------------------------------------------------------------------------- NFC helpers (generator side)
class Normalizer:
    """Small UAX #15 implementation used to derive ftfy's width map from the data files."""

    SBase, LBase, VBase, TBase = 0xAC00, 0x1100, 0x1161, 0x11A7
    LCount, VCount, TCount = 19, 21, 28
    NCount = VCount * TCount
    SCount = LCount * NCount

    def __init__(self, records, exclusions):
        self.ccc = {}
        self.canon = {}
        self.compat = {}
        for cp, f in records.items():
            if int(f[3]):
                self.ccc[cp] = int(f[3])
            if f[5]:
                parts = f[5].split()
                if parts[0].startswith("<"):
                    self.compat[cp] = [int(x, 16) for x in parts[1:]]
                else:
                    self.canon[cp] = [int(x, 16) for x in parts]
        self.compose_map = {}
        for cp, d in self.canon.items():
            if len(d) == 2 and cp not in exclusions:
                self.compose_map[(d[0], d[1])] = cp

    def decompose(self, cp, compat):
        if self.SBase <= cp < self.SBase + self.SCount:
            s = cp - self.SBase
            out = [self.LBase + s // self.NCount, self.VBase + (s % self.NCount) // self.TCount]
            if s % self.TCount:
                out.append(self.TBase + s % self.TCount)
            return out
        d = self.canon.get(cp) or (self.compat.get(cp) if compat else None)
        if not d:
            return [cp]
        out = []
        for c in d:
            out.extend(self.decompose(c, compat))
        return out

    def normalize(self, cps, compat):
        d = []
        for c in cps:
            d.extend(self.decompose(c, compat))
        # canonical ordering
        i = 0
        while i < len(d):
            if self.ccc.get(d[i], 0) == 0:
                i += 1
                continue
            j = i
            while j < len(d) and self.ccc.get(d[j], 0) != 0:
                j += 1
            d[i:j] = sorted(d[i:j], key=lambda c: self.ccc[c])
            i = j
        # composition
        if not d:
            return d
        out = [d[0]]
        starter = 0 if self.ccc.get(d[0], 0) == 0 else None
        last_ccc = 0 if starter == 0 else 256
        for c in d[1:]:
            cc = self.ccc.get(c, 0)
            if starter is not None and (last_ccc < cc or (last_ccc == 0 and len(out) - 1 == starter)):
                s = out[starter]
                composed = None
                if self.LBase <= s < self.LBase + self.LCount and self.VBase <= c < self.VBase + self.VCount:
                    composed = self.SBase + ((s - self.LBase) * self.VCount + (c - self.VBase)) * self.TCount
                elif (self.SBase <= s < self.SBase + self.SCount and (s - self.SBase) % self.TCount == 0
                      and self.TBase < c < self.TBase + self.TCount):
                    composed = s + (c - self.TBase)
                else:
                    composed = self.compose_map.get((s, c))
                if composed is not None:
                    out[starter] = composed
                    continue
            if cc == 0:
                starter = len(out)
                last_ccc = 0
            else:
                last_ccc = cc
            out.append(c)
        return out


# ---------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unicode-dir", default=UNICODE_DIR)
    ap.add_argument("--out-dir", default=os.path.join(REPO, "include", "skiptune", "io"))
    args = ap.parse_args()
    udir = args.unicode_dir

    records = read_unicode_data(os.path.join(udir, "UnicodeData.txt"))
    props = read_property_file(os.path.join(udir, "PropList.txt"), ["White_Space"])
    core = read_property_file(os.path.join(udir, "DerivedCoreProperties.txt"), ["Cased", "Case_Ignorable"])
    norm = read_property_file(os.path.join(udir, "DerivedNormalizationProps.txt"), ["Full_Composition_Exclusion"])
    special_lower = read_special_lowercase(os.path.join(udir, "SpecialCasing.txt"))
    version = unicode_version()
    ages = read_age(os.path.join(udir, "DerivedAge.txt"))
    python_version = unicodedata.unidata_version

    def new_since_python(cp):
        return ages.get(cp, (99, 99)) > python_version_key(python_version)

    letters = {cp for cp, f in records.items() if f[2].startswith("L")}
    numbers = {cp for cp, f in records.items() if f[2].startswith("N")}
    decimals = {cp for cp, f in records.items() if f[2] == "Nd"}
    white_space = props["White_Space"]
    # CPython's str.isspace(): bidirectional class WS, B or S, or category Zs.
    py_space = {cp for cp, f in records.items() if f[4] in ("WS", "B", "S") or f[2] == "Zs"}
    extra_py_space = py_space - white_space
    assert extra_py_space == set(range(0x1C, 0x20)), sorted(extra_py_space)
    assert white_space <= py_space

    lower_simple = {}
    for cp, f in records.items():
        if f[13]:
            lower_simple[cp] = int(f[13], 16)
    lower_full = {cp: m for cp, m in special_lower.items() if m != [lower_simple.get(cp, cp)]}
    for cp, m in lower_full.items():
        assert len(m) <= 3
    # The run table covers the single-code-point mappings; the few multi-code-point ones
    # (U+0130 -> i + combining dot) are listed separately.
    lower_runs = delta_runs({cp: t for cp, t in lower_simple.items() if cp not in lower_full})

    normalizer = Normalizer(records, norm["Full_Composition_Exclusion"])
    ccc_ranges = to_valued_ranges(normalizer.ccc)
    decomp_rows = []
    for cp in sorted(normalizer.canon):
        d = normalizer.canon[cp]
        assert 1 <= len(d) <= 2
        excluded = cp in norm["Full_Composition_Exclusion"] or len(d) == 1
        decomp_rows.append((cp, d[0], d[1] if len(d) == 2 else 0, 1 if excluded else 0))

    # ftfy's fix_character_width: NFKC of U+FF01..U+FFEF where it changes, and U+3000 -> space.
    width_map = {0x3000: [0x20]}
    for cp in range(0xFF01, 0xFFF0):
        if cp not in records:
            continue
        alt = normalizer.normalize([cp], compat=True)
        if alt != [cp]:
            width_map[cp] = alt
    assert max(len(v) for v in width_map.values()) <= 2

    # ---------------------------------------------------------------- cross-checks against Python
    problems = []

    def check(name, ours, theirs, cps, against=None):
        """Compare one of our tables with Python's answer for every code point in cps."""
        against = against or "Python %s (unicodedata %s)" % (sys.version.split()[0], python_version)
        bad = [cp for cp in cps if ours(cp) != theirs(cp)]
        new = [cp for cp in bad if new_since_python(cp)]
        old = [cp for cp in bad if not new_since_python(cp)]
        if old:
            problems.append("%s differs from %s for %d code points assigned in Unicode %s, e.g. %s"
                            % (name, against, len(old), python_version, [hex(c) for c in old[:8]]))
        print("check %-18s: %4d differences from %s (%d of them code points new since Unicode %s)"
              % (name, len(bad), against, len(new), python_version))

    all_cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]

    def our_lower(cp):
        if cp in lower_full:
            return "".join(map(chr, lower_full[cp]))
        return chr(lower_simple.get(cp, cp))

    check("str.lower", our_lower, lambda cp: chr(cp).lower() if cp != 0x3A3 else "\u03c3", all_cps)
    check("str.isspace", lambda cp: cp in py_space, lambda cp: chr(cp).isspace(), all_cps)
    check("decimal (re \\d)", lambda cp: cp in decimals, lambda cp: chr(cp).isdecimal(), all_cps)
    check("NFC", lambda cp: normalizer.normalize([cp], False),
          lambda cp: [ord(c) for c in unicodedata.normalize("NFC", chr(cp))], all_cps)
    check("width map", lambda cp: width_map.get(cp, [cp]),
          lambda cp: ([0x20] if cp == 0x3000 else [ord(c) for c in unicodedata.normalize("NFKC", chr(cp))]
                      if 0xFF01 <= cp < 0xFFF0 else [cp]), list(range(0x3000, 0x3001)) + list(range(0xFF01, 0xFFF0)))
    try:
        import regex  # python3-regex: the module OpenAI's tokenizer uses for \p{L}, \p{N}, \s
        by_regex = "python3-regex %s" % regex.__version__
        check("regex \\p{L}", lambda cp: cp in letters, lambda cp: bool(regex.match(r"\p{L}", chr(cp))), all_cps,
              by_regex)
        check("regex \\p{N}", lambda cp: cp in numbers, lambda cp: bool(regex.match(r"\p{N}", chr(cp))), all_cps,
              by_regex)
        check("regex \\s", lambda cp: cp in white_space, lambda cp: bool(regex.match(r"\s", chr(cp))), all_cps, by_regex)
    except ImportError:
        print("python3-regex not installed: skipped the \\p{L} / \\p{N} / \\s cross-check")
    for p in problems:
        print("WARNING:", p)

    # ---------------------------------------------------------------- write unicode_tables.hpp
    # Tables are flat integer arrays (several numbers per entry, no structs) to keep the
    # committed header small; tokenizer.hpp reads them through small accessor functions.
    def flat(numbers, per_line=16):
        items = [str(n) for n in numbers]  # decimal: shorter than hex on average
        return fmt_rows(items, per_line, indent="  ").replace(", ", ",")

    def range_array(name, ranges, comment):
        nums = [x for r in ranges for x in r]
        return ("/// %s: %d [first, last] pairs\ninline constexpr char32_t %s[] = {\n%s\n};\n"
                % (comment, len(ranges), name, flat(nums)))

    out = []
    out.append("""// skiptune/io/unicode_tables.hpp — GENERATED by scripts/gen_unicode_tables.py; do not edit.
// Unicode %s character data for the CLIP tokenizer (skiptune/io/tokenizer.hpp): the classes its
// pre-tokeniser regex uses (\\p{L}, \\p{N}, \\s), Python's str.isspace / str.lower (with the
// unconditional SpecialCasing rules, Cased and Case_Ignorable for Final_Sigma), canonical
// decompositions and combining classes for NFC, and ftfy's full/half-width map.
// Source: Debian's unicode-data package (/usr/share/unicode). Every table is sorted by code
// point and non-overlapping, so lookups are binary searches.
#pragma once

#include <cstdint>

namespace skiptune::io::detail {

/// The Unicode version the tables below were generated from.
inline constexpr const char* kUnicodeTablesVersion = "%s";
""" % (version, version))
    out.append(range_array("kLetterRanges", to_ranges(letters), "General category L* (regex \\p{L})"))
    out.append(range_array("kNumberRanges", to_ranges(numbers), "General category N* (regex \\p{N})"))
    out.append(range_array("kWhiteSpaceRanges", to_ranges(white_space),
                           "White_Space (the regex module's \\s; str.isspace() adds U+001C..U+001F)"))
    out.append(range_array("kDecimalRanges", to_ranges(decimals), "General category Nd (Python re's \\d)"))
    out.append(range_array("kCasedRanges", to_ranges(core["Cased"]), "Cased (DerivedCoreProperties)"))
    out.append(range_array("kCaseIgnorableRanges", to_ranges(core["Case_Ignorable"]),
                           "Case_Ignorable (DerivedCoreProperties)"))
    nums = [x for run in lower_runs for x in run]
    out.append("/// Simple lowercase mappings as %d runs (covering %d code points) of four numbers:\n"
               "/// first, last, delta, stride — every stride-th code point in [first, last] maps to itself + delta.\n"
               "inline constexpr std::int32_t kLowercaseRuns[] = {\n%s\n};\n"
               % (len(lower_runs), len(lower_simple), flat(nums)))
    nums = [x for cp, m in sorted(lower_full.items()) for x in [cp] + (m + [0, 0, 0])[:3]]
    out.append("/// Unconditional multi-code-point lowercase mappings (SpecialCasing.txt): code point and\n"
               "/// three slots (unused ones are 0)\ninline constexpr char32_t kFullLowercase[] = {\n%s\n};\n"
               % flat(nums))
    nums = [x for r in ccc_ranges for x in r]
    out.append("/// Canonical combining classes != 0: %d triples first, last, class\n"
               "inline constexpr char32_t kCombiningClassRanges[] = {\n%s\n};\n"
               % (len(ccc_ranges), flat(nums)))
    nums = []
    for cp, a, b, e in decomp_rows:
        nums += [cp | (0x80000000 if e else 0), a, b]
    out.append("/// Canonical decompositions, one level, as %d triples: code point (bit 31 set = full\n"
               "/// composition exclusion, never re-formed by NFC), first, second (0 for a singleton).\n"
               "/// Hangul syllables are algorithmic and not listed.\n"
               "inline constexpr std::uint32_t kCanonicalDecompositions[] = {\n%s\n};\n"
               % (len(decomp_rows), flat(nums)))
    nums = [x for cp, m in sorted(width_map.items()) for x in [cp] + (m + [0])[:2]]
    out.append("/// ftfy's width map: %d triples code point, mapping (1 or 2 code points, unused slot 0)\n"
               "inline constexpr char32_t kWidthMap[] = {\n%s\n};\n" % (len(width_map), flat(nums)))
    out.append("}  // namespace skiptune::io::detail\n")
    path = os.path.join(args.out_dir, "unicode_tables.hpp")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print("wrote", path, os.path.getsize(path), "bytes")

    # ---------------------------------------------------------------- write html_entities.hpp
    html5 = html.entities.html5
    entries = []
    for name in sorted(k[:-1] for k in html5 if k.endswith(";")):
        value = html5[name + ";"]
        fields = [name, ".".join("%X" % ord(c) for c in value)]
        flags = ""
        if name in html5:  # also accepted without the semicolon (legacy entity)
            assert html5[name] == value
            flags += "L"
        # ftfy also decodes the all-caps spelling of lowercase names, to value.upper(), when
        # html.unescape leaves that spelling alone (see ftfy.chardata._build_html_entities).
        upper_value = None
        if name == name.lower():
            upper_name = "&" + name.upper() + ";"
            if html.unescape(upper_name) == upper_name:
                upper_value = value.upper()
                flags += "U"
        fields.append(flags)
        if upper_value is not None and upper_value != value:
            fields.append(".".join("%X" % ord(c) for c in upper_value))
        entries.append(",".join(fields).rstrip(","))
    legacy_only = [k for k in html5 if not k.endswith(";") and k + ";" not in html5]
    assert not legacy_only, legacy_only
    for e in entries:
        assert " " not in e and '"' not in e and ")" not in e
    blob_lines = []
    line = ""
    for e in entries:
        if len(line) + len(e) + 1 > 96:
            blob_lines.append(line)
            line = ""
        line += e + " "
    blob_lines.append(line)
    invalid_charrefs = sorted(html._invalid_charrefs.items())
    invalid_cp_ranges = to_ranges(html._invalid_codepoints)
    hout = []
    hout.append("""// skiptune/io/html_entities.hpp — GENERATED by scripts/gen_unicode_tables.py; do not edit.
// The HTML5 named character references as Python %s's html.entities.html5 has them, and the
// numeric-reference rules of its html.unescape, for the CLIP tokenizer's text cleaning.
#pragma once

#include <cstdint>
#include <string_view>

namespace skiptune::io::detail {

/// %d entity names (without the ';'), space separated, each as
///   name,VALUE[,FLAGS[,UPPER]]
/// VALUE: the code points (hex, '.'-joined) of the replacement text.
/// FLAGS: 'L' — also recognised without the semicolon (the 106 legacy names, e.g. "&amp");
///        'U' — ftfy also decodes the all-caps spelling "&NAME;", to UPPER if given, else VALUE.
inline constexpr std::string_view kHtmlEntityBlob =
%s;

/// html.unescape's replacements for numeric references to these code points (Python's
/// html._invalid_charrefs: the Windows-1252 reading of C1 controls, NUL -> U+FFFD, CR -> CR).
struct CharrefReplacement {
  std::uint32_t number;
  char32_t replacement;
};
inline constexpr CharrefReplacement kInvalidCharrefs[] = {
%s
};

/// Numeric references to these code points become the empty string (html._invalid_codepoints).
struct InvalidCodePointRange {
  std::uint32_t first;
  std::uint32_t last;
};
inline constexpr InvalidCodePointRange kInvalidCharrefCodePoints[] = {
%s
};

}  // namespace skiptune::io::detail
""" % (sys.version.split()[0], len(entries),
       "\n".join('    "%s"' % l for l in blob_lines),
       fmt_rows(["{%s, %s}" % (hx(k), hx(ord(v))) for k, v in invalid_charrefs], 6),
       fmt_rows(["{%s, %s}" % (hx(a), hx(b)) for a, b in invalid_cp_ranges], 6)))
    path = os.path.join(args.out_dir, "html_entities.hpp")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(hout))
    print("wrote", path, os.path.getsize(path), "bytes")
    return 1 if problems else 0


def python_version_key(v):
    return tuple(int(x) for x in v.split("."))[:2]


def read_age(path):
    """{cp: (major, minor)} — the Unicode version that assigned each code point."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            rng, age = [p.strip() for p in line.split(";")]
            key = tuple(int(x) for x in age.split("."))
            if ".." in rng:
                a, b = rng.split("..")
                for c in range(int(a, 16), int(b, 16) + 1):
                    out[c] = key
            else:
                out[int(rng, 16)] = key
    return out


if __name__ == "__main__":
    sys.exit(main())
