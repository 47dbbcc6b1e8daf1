// libFuzzer target for the safetensors reader and the JSON parser under it. Arbitrary bytes are
// handed to SafetensorsFile::from_bytes (the same parser open() uses) and to parse_json. The only
// acceptable outcomes are success or a skiptune::IoError; anything else — a crash, a sanitizer
// report, another exception type escaping, or a tensor whose bytes lie outside the input — is a
// bug. Not built by CMake; see docs/safetensors.md for the command line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "skiptune/io/json.hpp"
#include "skiptune/io/safetensors.hpp"

namespace {

void check(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that broke an invariant
}

void exercise_json(const std::uint8_t* data, std::size_t size) {
  try {
    const skiptune::io::JsonValue value =
        skiptune::io::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
    // Whatever parses must serialise and parse back to the same tree.
    const std::string text = skiptune::io::to_json(value);
    check(skiptune::io::parse_json(text) == value);
  } catch (const skiptune::io::JsonError&) {
  }
}

void exercise_safetensors(const std::uint8_t* data, std::size_t size) {
  using namespace skiptune::io;
  try {
    const SafetensorsFile file =
        SafetensorsFile::from_bytes(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
    std::uint64_t covered = 0;
    for (const TensorInfo& tensor : file.tensors()) {
      check(tensor.file_offset == file.data_offset() + tensor.begin);
      check(tensor.file_offset + tensor.byte_size() <= size);
      check(static_cast<std::uint64_t>(tensor.numel) * dtype_size(tensor.dtype) == tensor.byte_size());
      check(file.raw_bytes(tensor.name).size() == tensor.byte_size());
      covered += tensor.byte_size();
      if (is_convertible_float(tensor.dtype)) {
        // numel is bounded by the input size, so these allocations are too.
        std::vector<float> as_float(static_cast<std::size_t>(tensor.numel));
        file.read_as_float(tensor.name, as_float.data(), as_float.size());
        std::vector<double> as_double(static_cast<std::size_t>(tensor.numel));
        file.read_as_double(tensor.name, as_double.data(), as_double.size());
      }
    }
    check(file.data_offset() + covered == size);  // the data section is tiled exactly
  } catch (const skiptune::IoError&) {
  }
}

void exercise_half_conversions(const std::uint8_t* data, std::size_t size) {
  using namespace skiptune::io;
  for (std::size_t i = 0; i + 4 <= size && i < 64; i += 4) {
    std::uint16_t half = 0;
    std::memcpy(&half, data + i, 2);
    const bool is_nan = (half & 0x7C00) == 0x7C00 && (half & 0x03FF) != 0;
    if (!is_nan) check(float_to_half_bits(half_bits_to_float(half)) == half);
    std::uint16_t bf16 = 0;
    std::memcpy(&bf16, data + i + 2, 2);
    const bool bf_nan = (bf16 & 0x7F80) == 0x7F80 && (bf16 & 0x007F) != 0;
    if (!bf_nan) check(float_to_bfloat16_bits(bfloat16_bits_to_float(bf16)) == bf16);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  exercise_safetensors(data, size);
  exercise_json(data, size);
  exercise_half_conversions(data, size);
  return 0;
}
