#!/usr/bin/env python3
"""Generate the corpus of malformed safetensors files used by tests/io/test_safetensors.cpp.

Every file breaks exactly one rule of the format (see docs/safetensors.md). MANIFEST.tsv lists
each file with a phrase that the reader's IoError message must contain. The output is
deterministic; regenerate from the repository root with

    /usr/bin/python3 scripts/make_safetensors_corpus.py

Options:
    --out DIR         where the malformed corpus goes (default tests/fixtures/safetensors_malformed)
    --valid-out DIR   also write a few *valid* files to DIR (seeds for the fuzzer; not committed)

Standard library only.
"""

import argparse
import os
import struct
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "safetensors_malformed")


def pack(header, data=b"", header_length=None, pad=True):
    """Assemble a file: 8-byte little-endian length, header bytes, data bytes.

    header: str (encoded as UTF-8) or bytes (used verbatim, e.g. invalid UTF-8).
    header_length: write this length instead of the real one (to lie about it).
    pad: pad the header with spaces to a multiple of 8, as writers do.
    """
    raw = header.encode("utf-8") if isinstance(header, str) else header
    if pad:
        raw += b" " * (-len(raw) % 8)
    length = len(raw) if header_length is None else header_length
    return struct.pack("<Q", length) + raw + data


def entry(name, dtype, shape, begin, end):
    shape_text = ",".join(str(extent) for extent in shape)
    return f'"{name}":{{"dtype":"{dtype}","shape":[{shape_text}],"data_offsets":[{begin},{end}]}}'


def obj(*entries):
    return "{" + ",".join(entries) + "}"


def zeros(count):
    return bytes(count)


def malformed_cases():
    """(file name, file bytes, expected phrase in the error message)."""
    one = entry("a", "F32", [1], 0, 4)  # a valid one-float tensor, used as a base
    cases = [
        # --- the 8-byte prefix and the header length
        ("empty_file.safetensors", b"", "starts with an 8-byte"),
        ("shorter_than_8_bytes.safetensors", b"\x02\x00\x00", "starts with an 8-byte"),
        ("header_too_large.safetensors", pack("{}", header_length=100_000_001), "exceeds the limit of 100000000"),
        ("header_length_max_u64.safetensors", pack("{}", header_length=2**64 - 1), "exceeds the limit"),
        ("header_length_past_eof.safetensors", pack(obj(one), zeros(4), header_length=4096),
         "runs past the end of the file"),
        ("header_length_one_past_eof.safetensors", pack("{}", header_length=9), "runs past the end of the file"),
        # --- UTF-8
        ("non_utf8_header.safetensors", pack(b'{"a\xff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', zeros(4)),
         "not valid UTF-8"),
        ("overlong_utf8_header.safetensors", pack(b'{"\xc0\xaf":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', zeros(4)),
         "not valid UTF-8"),
        ("surrogate_utf8_header.safetensors", pack(b'{"\xed\xa0\x80":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', zeros(4)),
         "not valid UTF-8"),
        ("truncated_utf8_header.safetensors", pack(b'{"a":{}}\xe2\x82', pad=False), "not valid UTF-8"),
        # --- JSON syntax
        ("invalid_json_trailing_comma.safetensors", pack(obj(one)[:-1] + ",}", zeros(4)), "invalid JSON in header"),
        ("invalid_json_unterminated.safetensors", pack('{"a":{"dtype":"F32"'), "invalid JSON in header"),
        ("invalid_json_unterminated_string.safetensors", pack('{"a', pad=False), "invalid JSON in header"),
        ("invalid_json_garbage_after_object.safetensors", pack("{} x"), "invalid JSON in header"),
        ("invalid_json_two_objects.safetensors", pack("{}{}"), "invalid JSON in header"),
        ("invalid_json_bad_escape.safetensors", pack(obj(one).replace('"a"', '"a\\q"'), zeros(4)), "invalid JSON in header"),
        ("invalid_json_lone_surrogate_escape.safetensors", pack(obj(one).replace('"a"', '"\\ud800"'), zeros(4)),
         "invalid JSON in header"),
        ("invalid_json_control_char_in_name.safetensors", pack(obj(one).replace('"a"', '"a\x01"'), zeros(4)),
         "invalid JSON in header"),
        ("invalid_json_single_quotes.safetensors", pack("{'a':1}"), "invalid JSON in header"),
        ("invalid_json_leading_zero.safetensors", pack(obj(entry("a", "F32", ["01"], 0, 4)), zeros(4)),
         "invalid JSON in header"),
        ("invalid_json_nan.safetensors", pack(obj(entry("a", "F32", ["NaN"], 0, 4)), zeros(4)),
         "invalid JSON in header"),
        ("integer_beyond_64_bits.safetensors", pack(obj(entry("a", "F32", [18446744073709551616], 0, 4)), zeros(4)),
         "does not fit in 64 bits"),
        # --- the header's top level
        ("header_is_array.safetensors", pack("[1,2]"), "must be a JSON object"),
        ("header_is_string.safetensors", pack('"abc"'), "must be a JSON object"),
        ("header_leading_space.safetensors", pack(" {}"), "must be a JSON object"),
        ("header_empty.safetensors", pack(""), "must be a JSON object"),
        ("header_nul_padding.safetensors", pack(b"{}\x00\x00\x00\x00\x00\x00", pad=False), "invalid JSON in header"),
        ("entry_not_object.safetensors", pack('{"a":5}'), "must be an object with"),
        # --- entry fields
        ("missing_dtype.safetensors", pack('{"a":{"shape":[1],"data_offsets":[0,4]}}', zeros(4)), 'is missing "dtype"'),
        ("missing_shape.safetensors", pack('{"a":{"dtype":"F32","data_offsets":[0,4]}}', zeros(4)), 'is missing "shape"'),
        ("missing_data_offsets.safetensors", pack('{"a":{"dtype":"F32","shape":[1]}}', zeros(4)),
         'is missing "data_offsets"'),
        ("unknown_entry_key.safetensors", pack('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}', zeros(4)),
         "unknown key"),
        ("duplicate_entry_key.safetensors", pack('{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', zeros(4)),
         'duplicate "dtype"'),
        ("unknown_dtype.safetensors", pack(obj(entry("a", "F33", [1], 0, 4)), zeros(4)), 'unknown dtype "F33"'),
        ("lowercase_dtype.safetensors", pack(obj(entry("a", "f32", [1], 0, 4)), zeros(4)), 'unknown dtype "f32"'),
        ("dtype_not_string.safetensors", pack('{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}', zeros(4)),
         '"dtype" at file offset'),
        ("negative_shape_entry.safetensors", pack(obj(entry("a", "F32", [-1], 0, 4)), zeros(4)),
         "must be a non-negative integer"),
        ("fractional_shape_entry.safetensors", pack(obj(entry("a", "F32", [1.5], 0, 4)), zeros(4)),
         "must be a non-negative integer"),
        ("float_shape_entry.safetensors", pack(obj(entry("a", "F32", ["1.0"], 0, 4)), zeros(4)),
         "must be a non-negative integer"),
        ("string_shape_entry.safetensors", pack(obj(entry("a", "F32", ['"1"'], 0, 4)), zeros(4)),
         "must be a non-negative integer"),
        ("null_shape_entry.safetensors", pack(obj(entry("a", "F32", ["null"], 0, 4)), zeros(4)),
         "must be a non-negative integer"),
        ("shape_entry_above_int64.safetensors", pack(obj(entry("a", "F32", [2**63], 0, 4)), zeros(4)),
         "must be a non-negative integer"),
        ("shape_not_array.safetensors", pack('{"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}', zeros(4)),
         "must be an array of non-negative integers"),
        ("data_offsets_one_entry.safetensors", pack('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}', zeros(4)),
         "must be an array of two integers"),
        ("data_offsets_three_entries.safetensors", pack('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', zeros(4)),
         "must be an array of two integers"),
        ("data_offsets_empty.safetensors", pack('{"a":{"dtype":"F32","shape":[0],"data_offsets":[]}}'),
         "must be an array of two integers"),
        ("data_offsets_not_array.safetensors", pack('{"a":{"dtype":"F32","shape":[1],"data_offsets":"0,4"}}', zeros(4)),
         "must be an array of two integers"),
        ("data_offsets_negative.safetensors", pack(obj(entry("a", "F32", [1], -4, 0)), zeros(4)),
         "must be a non-negative integer"),
        ("data_offsets_fractional.safetensors", pack(obj(entry("a", "F32", [1], 0, 4.0)), zeros(4)),
         "must be a non-negative integer"),
        ("data_offsets_reversed.safetensors", pack(obj(entry("a", "F32", [0], 4, 0)), zeros(4)),
         "end before they begin"),
        # --- arithmetic
        ("shape_product_overflows.safetensors",
         pack(obj(entry("a", "F32", [4294967296, 4294967296, 4], 0, 4)), zeros(4)), "overflows 64-bit arithmetic"),
        ("shape_product_overflows_before_zero.safetensors",
         pack(obj(entry("a", "F32", [4294967296, 4294967296, 0], 0, 0))), "overflows 64-bit arithmetic"),
        ("byte_size_overflows.safetensors",
         pack(obj(entry("a", "F64", [2**62], 0, 8)), zeros(8)), "overflows 64-bit arithmetic"),
        ("numel_times_size_mismatch.safetensors", pack(obj(entry("a", "F32", [2, 2], 0, 12)), zeros(12)),
         "span 12 bytes, but dtype F32 with shape [2, 2] needs 16 bytes"),
        ("empty_tensor_with_bytes.safetensors", pack(obj(entry("a", "F32", [0, 3], 0, 4)), zeros(4)),
         "needs 0 bytes"),
        ("scalar_with_wrong_size.safetensors", pack(obj(entry("a", "F16", [], 0, 4)), zeros(4)),
         "needs 2 bytes"),
        # --- names and metadata
        ("duplicate_tensor_names.safetensors",
         pack(obj(entry("a", "F32", [1], 0, 4), entry("a", "F32", [1], 4, 8)), zeros(8)), "duplicate tensor name 'a'"),
        ("metadata_value_not_string.safetensors", pack(obj('"__metadata__":{"format":1}', one), zeros(4)),
         "must be a string"),
        ("metadata_not_object.safetensors", pack(obj('"__metadata__":"pt"', one), zeros(4)),
         "must be an object mapping strings to strings"),
        ("metadata_null.safetensors", pack(obj('"__metadata__":null', one), zeros(4)),
         "must be an object mapping strings to strings"),
        ("metadata_duplicate.safetensors", pack(obj('"__metadata__":{}', '"__metadata__":{}', one), zeros(4)),
         'duplicate "__metadata__"'),
        ("metadata_duplicate_key.safetensors", pack(obj('"__metadata__":{"k":"v","k":"w"}', one), zeros(4)),
         "duplicate \"__metadata__\" key 'k'"),
        # --- layout of the data section
        ("truncated_data.safetensors", pack(obj(entry("a", "F32", [4], 0, 16)), zeros(8)), "file is truncated"),
        ("truncated_data_empty.safetensors", pack(obj(entry("a", "F32", [1], 0, 4))), "file is truncated"),
        ("trailing_bytes.safetensors", pack(obj(one), zeros(4 + 5)), "5 trailing byte(s)"),
        ("trailing_bytes_no_tensors.safetensors", pack("{}", zeros(1)), "1 trailing byte(s)"),
        ("overlapping_offsets.safetensors",
         pack(obj(entry("a", "F32", [2], 0, 8), entry("b", "F32", [2], 4, 12)), zeros(12)), "overlaps tensor 'a'"),
        ("identical_offsets.safetensors",
         pack(obj(entry("a", "F32", [1], 0, 4), entry("b", "F32", [1], 0, 4)), zeros(4)), "overlaps"),
        ("empty_tensor_inside_other.safetensors",
         pack(obj(entry("a", "F32", [2], 0, 8), entry("b", "F32", [0], 4, 4)), zeros(8)), "overlaps"),
        ("gap_between_offsets.safetensors",
         pack(obj(entry("a", "F32", [1], 0, 4), entry("b", "F32", [1], 8, 12)), zeros(12)), "gap of 4 bytes"),
        ("offsets_not_starting_at_zero.safetensors", pack(obj(entry("a", "F32", [1], 4, 8)), zeros(8)),
         "must start at offset 0"),
    ]
    return cases


def valid_cases():
    """A few valid files (fuzzer seeds)."""
    return [
        ("valid_empty_header.safetensors", pack("{}")),
        ("valid_one_f32.safetensors", pack(obj(entry("a", "F32", [1], 0, 4)), struct.pack("<f", 1.5))),
        ("valid_mixed.safetensors",
         pack(obj('"__metadata__":{"format":"pt","note":"caf\\u00e9 \\ud83d\\ude00"}',
                  entry("h", "F16", [2], 0, 4), entry("b", "BF16", [], 4, 6), entry("d", "F64", [1, 1], 6, 14),
                  entry("e", "I64", [0, 3], 14, 14), entry("u", "U8", [3], 14, 17)),
              struct.pack("<HHHd", 0x3C00, 0x0001, 0x4049, 3.25) + b"\x01\x02\x03", pad=False)),
    ]


def write_all(directory, files):
    os.makedirs(directory, exist_ok=True)
    for name, content in files:
        with open(os.path.join(directory, name), "wb") as f:
            f.write(content)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--valid-out", default=None)
    args = parser.parse_args()

    cases = malformed_cases()
    names = [name for name, _, _ in cases]
    if len(set(names)) != len(names):
        sys.exit("duplicate file name in the corpus definition")
    for name, _, phrase in cases:
        if "\t" in phrase or "\n" in phrase:
            sys.exit(f"{name}: phrase must not contain tabs or newlines")

    # Remove stale corpus files so the directory always matches the manifest exactly.
    if os.path.isdir(args.out):
        for old in os.listdir(args.out):
            if old.endswith(".safetensors") or old == "MANIFEST.tsv":
                os.remove(os.path.join(args.out, old))
    write_all(args.out, [(name, content) for name, content, _ in cases])
    with open(os.path.join(args.out, "MANIFEST.tsv"), "w", encoding="utf-8", newline="\n") as manifest:
        manifest.write("# file<TAB>phrase the IoError message must contain"
                       " (generated by scripts/make_safetensors_corpus.py)\n")
        for name, _, phrase in cases:
            manifest.write(f"{name}\t{phrase}\n")
    print(f"wrote {len(cases)} malformed files and MANIFEST.tsv to {args.out}")

    if args.valid_out:
        write_all(args.valid_out, valid_cases())
        print(f"wrote {len(valid_cases())} valid files to {args.valid_out}")


if __name__ == "__main__":
    main()
