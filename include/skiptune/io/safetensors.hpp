// skiptune/io/safetensors.hpp — a safe reader and an atomic writer for the safetensors
// checkpoint format, plus sharded checkpoints (model.safetensors.index.json).
//
// Format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object starting
// with '{', possibly padded with trailing spaces), then the data section. Each header entry is
// {"dtype", "shape", "data_offsets": [begin, end)} with offsets relative to the data section;
// an optional "__metadata__" maps strings to strings.
//
// The reader treats every file as hostile: it checks every rule of the format (see
// docs/safetensors.md) before handing out a single byte, so after open() every tensor's bytes
// are known to lie inside the file and to match its dtype and shape. Files are memory-mapped
// read-only, so a 600 MB checkpoint needs no second copy in memory; if mmap is impossible the
// file is read into memory instead. Every problem is a skiptune::IoError whose message names the
// file, the tensor and/or the byte offset and says what was expected.
//
// The writer converts float32 data to F32, F16 or BF16 and replaces the target file atomically
// (temporary file in the same directory, fsync, rename), so an existing checkpoint is never
// damaged by a failed or interrupted save.
//
// Byte order: safetensors is little-endian and so are all platforms skiptune targets; a
// static_assert below makes a big-endian build fail loudly instead of reading garbage.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/io/json.hpp"

namespace skiptune::io {

static_assert(std::endian::native == std::endian::little,
              "skiptune's safetensors reader assumes a little-endian host");

// ------------------------------------------------------------------------------------------
// Element types
// ------------------------------------------------------------------------------------------

/// The element types of the safetensors format (all but the sub-byte F4/F6 kinds).
enum class Dtype : std::uint8_t { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64 };

namespace detail {
struct DtypeDescription {
  Dtype dtype;
  std::string_view name;
  std::size_t size;
};
inline constexpr std::array<DtypeDescription, 15> dtype_table{{
    {Dtype::BOOL, "BOOL", 1},  {Dtype::U8, "U8", 1},   {Dtype::I8, "I8", 1},
    {Dtype::F8_E5M2, "F8_E5M2", 1}, {Dtype::F8_E4M3, "F8_E4M3", 1},
    {Dtype::I16, "I16", 2},    {Dtype::U16, "U16", 2}, {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},  {Dtype::I32, "I32", 4}, {Dtype::U32, "U32", 4},
    {Dtype::F32, "F32", 4},    {Dtype::I64, "I64", 8}, {Dtype::U64, "U64", 8},
    {Dtype::F64, "F64", 8},
}};
}  // namespace detail

/// The name used in safetensors headers ("F32", "BF16", ...).
inline std::string_view dtype_name(Dtype dtype) {
  return detail::dtype_table[static_cast<std::size_t>(dtype)].name;
}

/// Bytes per element.
inline std::size_t dtype_size(Dtype dtype) {
  return detail::dtype_table[static_cast<std::size_t>(dtype)].size;
}

/// The dtype with header name `name` (case-sensitive, as the format requires), if any.
inline std::optional<Dtype> dtype_from_name(std::string_view name) {
  for (const auto& description : detail::dtype_table) {
    if (description.name == name) return description.dtype;
  }
  return std::nullopt;
}

/// True for the dtypes read_as_float / read_as_double convert: F64, F32, F16, BF16.
inline bool is_convertible_float(Dtype dtype) {
  return dtype == Dtype::F64 || dtype == Dtype::F32 || dtype == Dtype::F16 || dtype == Dtype::BF16;
}

// ------------------------------------------------------------------------------------------
// Half-precision conversions (bit patterns in uint16)
// ------------------------------------------------------------------------------------------

/// IEEE binary16 → float32, exact for every input: subnormals are normalised, ±inf stays
/// ±inf, NaN stays NaN with its payload in the top mantissa bits.
inline float half_bits_to_float(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1Fu;
  std::uint32_t mantissa = half & 0x3FFu;
  std::uint32_t bits = 0;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf or NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // ±0
  } else {
    // Subnormal m·2^-24: shift the leading 1 up to the implicit bit position, lowering the
    // exponent by one per shift; every half subnormal is a normal float.
    std::uint32_t float_exponent = 127 - 14;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --float_exponent;
    }
    bits = sign | (float_exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

/// float32 → IEEE binary16, rounding to nearest with ties to even. Values whose magnitude rounds
/// beyond 65504 (i.e. |x| >= 65520) become ±inf; tiny values become subnormals or ±0; NaN stays
/// a quiet NaN keeping the top 9 payload bits.
inline std::uint16_t float_to_half_bits(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) {  // NaN: force the quiet bit so a truncated payload stays NaN
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  if (magnitude >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // ≥ 65520 → inf
  if (magnitude < 0x38800000u) {  // below 2^-14: a half subnormal (or zero)
    if (magnitude <= 0x33000000u) return sign;  // ≤ 2^-25 rounds to zero (2^-25 is a tie → even 0)
    const std::uint32_t exponent = magnitude >> 23;              // 102 .. 112
    const std::uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126 - exponent;                  // 14 .. 24: to units of 2^-24
    std::uint32_t result = significand >> shift;
    const std::uint32_t remainder = significand & ((1u << shift) - 1);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;  // may reach 2^-14
    return static_cast<std::uint16_t>(sign | result);
  }
  // Normal range: rebias the exponent, keep 10 mantissa bits, round on the 13 dropped bits. A
  // carry out of the mantissa correctly bumps the exponent.
  std::uint32_t result = ((magnitude >> 23) - 127 + 15) << 10 | ((magnitude >> 13) & 0x3FFu);
  const std::uint32_t remainder = magnitude & 0x1FFFu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (result & 1u))) ++result;
  return static_cast<std::uint16_t>(sign | result);
}

/// bfloat16 → float32: exact, the bits are the top half of a float32.
inline float bfloat16_bits_to_float(std::uint16_t bf16) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bf16) << 16);
}

/// float32 → bfloat16, rounding to nearest with ties to even (overflow rounds to ±inf); NaN
/// stays a quiet NaN (rounding could otherwise carry a NaN's payload into an infinity).
inline std::uint16_t float_to_bfloat16_bits(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  const std::uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

// ------------------------------------------------------------------------------------------
// Reading
// ------------------------------------------------------------------------------------------

/// One tensor as described by the header, after validation.
struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;  // empty for a 0-dim (scalar) tensor
  std::int64_t numel = 1;           // product of shape (1 for 0-dim, 0 if any extent is 0)
  std::uint64_t begin = 0;          // [begin, end) relative to the start of the data section
  std::uint64_t end = 0;
  std::uint64_t file_offset = 0;    // absolute offset of the first byte in the file

  std::uint64_t byte_size() const noexcept { return end - begin; }
};

/// How SafetensorsFile::open gets the bytes.
enum class LoadMode {
  map_or_read,  ///< mmap read-only; if mmap fails, read the file into memory
  read,         ///< always read into memory (e.g. for files that may be changed underneath)
};

namespace detail {

/// The maximum header length the format allows (the reference implementation's limit).
inline constexpr std::uint64_t safetensors_max_header_size = 100'000'000;

/// The bytes of one file: a read-only mapping or an owned buffer. Owns what it points to.
class ByteStorage {
 public:
  ByteStorage() = default;
  explicit ByteStorage(std::vector<std::byte> owned) : owned_(std::move(owned)) {
    data_ = owned_.data();
    size_ = owned_.size();
  }
  // An uninitialised buffer about to be filled by read(): skipping the zero-fill that a vector
  // would do saves touching every page twice.
  ByteStorage(std::unique_ptr<std::byte[]> buffer, std::size_t size) : buffer_(std::move(buffer)) {
    data_ = buffer_.get();
    size_ = size;
  }
  static std::unique_ptr<ByteStorage> mapping(void* base, std::size_t size) {
    auto storage = std::make_unique<ByteStorage>();
    storage->map_base_ = base;
    storage->data_ = static_cast<const std::byte*>(base);
    storage->size_ = size;
    return storage;
  }
  ByteStorage(const ByteStorage&) = delete;
  ByteStorage& operator=(const ByteStorage&) = delete;
  ~ByteStorage() {
    if (map_base_ != nullptr) ::munmap(map_base_, size_);
  }

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  bool is_mapped() const noexcept { return map_base_ != nullptr; }

 private:
  std::vector<std::byte> owned_;
  std::unique_ptr<std::byte[]> buffer_;
  void* map_base_ = nullptr;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Closes a POSIX file descriptor on scope exit.
struct FileDescriptor {
  int fd = -1;
  explicit FileDescriptor(int descriptor) : fd(descriptor) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

inline std::string errno_text(int error) { return std::strerror(error); }

inline std::unique_ptr<ByteStorage> load_file_bytes(const std::filesystem::path& path, LoadMode mode) {
  const std::string name = path.string();
  FileDescriptor file(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd < 0) {
    const int error = errno;
    throw IoError(skiptune::detail::message("safetensors file '", name, "': cannot open: ",
                                            errno_text(error)));
  }
  struct stat status {};
  if (::fstat(file.fd, &status) != 0) {
    const int error = errno;
    throw IoError(skiptune::detail::message("safetensors file '", name, "': cannot stat: ",
                                            errno_text(error)));
  }
  if (!S_ISREG(status.st_mode)) {
    throw IoError(skiptune::detail::message("safetensors file '", name, "': not a regular file"));
  }
  const auto size = static_cast<std::uint64_t>(status.st_size);
  if (size > std::numeric_limits<std::size_t>::max()) {
    throw IoError(skiptune::detail::message("safetensors file '", name, "': too large to address"));
  }
  // mmap cannot map zero bytes; such a file is rejected by the parser anyway.
  if (mode == LoadMode::map_or_read && size > 0) {
    void* base = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, file.fd, 0);
    if (base != MAP_FAILED) return ByteStorage::mapping(base, static_cast<std::size_t>(size));
    // Fall through: some file systems (or sandboxes) refuse mmap; reading still works.
  }
  const auto length = static_cast<std::size_t>(size);
  std::unique_ptr<std::byte[]> buffer(new std::byte[length]);  // default-initialised: no zero-fill
  std::size_t done = 0;
  while (done < length) {
    const ::ssize_t got = ::pread(file.fd, buffer.get() + done, length - done, static_cast<::off_t>(done));
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      throw IoError(skiptune::detail::message("safetensors file '", name, "': read failed at byte ",
                                              done, ": ", errno_text(error)));
    }
    if (got == 0) {
      throw IoError(skiptune::detail::message("safetensors file '", name, "': file shrank while ",
                                              "reading (got ", done, " of ", size, " bytes)"));
    }
    done += static_cast<std::size_t>(got);
  }
  return std::make_unique<ByteStorage>(std::move(buffer), length);
}

inline std::uint64_t read_le64(const std::byte* p) {
  std::uint64_t value = 0;
  std::memcpy(&value, p, sizeof value);
  return value;  // little-endian host (static_assert above)
}

inline std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

/// Converts `count` elements of `dtype` at (possibly unaligned) `src` to `Out`.
template <class Out>
void convert_elements(Dtype dtype, const std::byte* src, Out* dst, std::size_t count) {
  switch (dtype) {
    case Dtype::F32:
      if constexpr (std::is_same_v<Out, float>) {
        if (count > 0) std::memcpy(dst, src, count * sizeof(float));
      } else {
        for (std::size_t i = 0; i < count; ++i) {
          float value;
          std::memcpy(&value, src + i * sizeof value, sizeof value);
          dst[i] = static_cast<Out>(value);
        }
      }
      return;
    case Dtype::F64:
      if constexpr (std::is_same_v<Out, double>) {
        if (count > 0) std::memcpy(dst, src, count * sizeof(double));
      } else {
        for (std::size_t i = 0; i < count; ++i) {
          double value;
          std::memcpy(&value, src + i * sizeof value, sizeof value);
          dst[i] = static_cast<Out>(value);  // round to nearest float; overflow → ±inf
        }
      }
      return;
    case Dtype::F16:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t bits;
        std::memcpy(&bits, src + i * sizeof bits, sizeof bits);
        dst[i] = static_cast<Out>(half_bits_to_float(bits));
      }
      return;
    case Dtype::BF16:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t bits;
        std::memcpy(&bits, src + i * sizeof bits, sizeof bits);
        dst[i] = static_cast<Out>(bfloat16_bits_to_float(bits));
      }
      return;
    default: break;
  }
  throw std::logic_error("convert_elements: dtype is not a convertible float type");
}

}  // namespace detail

/// A validated safetensors file. Movable, not copyable; const member functions are safe to call
/// from several threads at once. The file must not be truncated by anyone while it is open
/// (replacing it through write_safetensors is fine: rename leaves the mapped inode intact).
class SafetensorsFile {
 public:
  /// Opens and validates `path` (memory-mapped unless mode says otherwise).
  static SafetensorsFile open(const std::filesystem::path& path, LoadMode mode = LoadMode::map_or_read) {
    return SafetensorsFile(detail::load_file_bytes(path, mode), path.string());
  }

  /// Validates a copy of `bytes` (`source_name` is used in error messages).
  static SafetensorsFile from_bytes(std::span<const std::byte> bytes,
                                    std::string source_name = "<memory>") {
    return from_buffer(std::vector<std::byte>(bytes.begin(), bytes.end()), std::move(source_name));
  }

  /// Validates `buffer`, taking ownership of it.
  static SafetensorsFile from_buffer(std::vector<std::byte> buffer,
                                     std::string source_name = "<memory>") {
    return SafetensorsFile(std::make_unique<detail::ByteStorage>(std::move(buffer)),
                           std::move(source_name));
  }

  /// The path (or name given to from_bytes) used in messages.
  const std::string& source_name() const noexcept { return source_name_; }
  bool is_memory_mapped() const noexcept { return storage_->is_mapped(); }
  std::uint64_t file_size() const noexcept { return storage_->bytes().size(); }
  /// N, the JSON header length (including any padding).
  std::uint64_t header_size() const noexcept { return header_size_; }
  /// Absolute file offset where the data section starts (8 + N).
  std::uint64_t data_offset() const noexcept { return 8 + header_size_; }

  std::size_t size() const noexcept { return tensors_.size(); }
  /// Tensor names in file order: ascending data offset (ties — empty tensors — in header order).
  const std::vector<std::string>& names() const noexcept { return names_; }
  /// All tensors, in the order of names().
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }

  const TensorInfo& info(std::string_view name) const {
    const auto found = index_.find(name);
    if (found == index_.end()) {
      throw IoError(skiptune::detail::message("safetensors file '", source_name_, "': no tensor named '",
                                              name, "'"));
    }
    return tensors_[found->second];
  }

  /// The optional "__metadata__" map (empty if the file has none).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  /// The raw little-endian bytes of a tensor (not necessarily aligned).
  std::span<const std::byte> raw_bytes(std::string_view name) const {
    const TensorInfo& tensor = info(name);
    return storage_->bytes().subspan(tensor.file_offset, tensor.byte_size());
  }

  /// Converts tensor `name` (F32, F16, BF16 exactly; F64 rounded to nearest) into `dst`, which
  /// must hold exactly numel elements (ShapeError otherwise).
  void read_as_float(std::string_view name, float* dst, std::size_t count) const {
    read_converted(name, dst, count, "read_as_float");
  }
  std::vector<float> read_as_float(std::string_view name) const {
    std::vector<float> values(static_cast<std::size_t>(info(name).numel));
    read_as_float(name, values.data(), values.size());
    return values;
  }

  /// Converts tensor `name` (F64, F32, F16, BF16 — all exactly) into `dst`.
  void read_as_double(std::string_view name, double* dst, std::size_t count) const {
    read_converted(name, dst, count, "read_as_double");
  }
  std::vector<double> read_as_double(std::string_view name) const {
    std::vector<double> values(static_cast<std::size_t>(info(name).numel));
    read_as_double(name, values.data(), values.size());
    return values;
  }

 private:
  SafetensorsFile(std::unique_ptr<detail::ByteStorage> storage, std::string source_name)
      : storage_(std::move(storage)), source_name_(std::move(source_name)) {
    parse();
  }

  template <class... Parts>
  [[noreturn]] void fail(Parts&&... parts) const {
    throw IoError(skiptune::detail::message("safetensors file '", source_name_, "': ",
                                            std::forward<Parts>(parts)...));
  }

  template <class Out>
  void read_converted(std::string_view name, Out* dst, std::size_t count, const char* what) const {
    const TensorInfo& tensor = info(name);
    if (count != static_cast<std::uint64_t>(tensor.numel)) {
      throw ShapeError(skiptune::detail::message(
          "safetensors file '", source_name_, "': tensor '", tensor.name, "' has shape ",
          detail::shape_text(tensor.shape), " (", tensor.numel, " elements), but ", what,
          " was given room for ", count));
    }
    if (!is_convertible_float(tensor.dtype)) {
      fail("tensor '", tensor.name, "' has dtype ", dtype_name(tensor.dtype), "; ", what,
           " converts only F64, F32, F16 and BF16");
    }
    if (count > 0 && dst == nullptr) {
      throw InputError(skiptune::detail::message(what, ": null destination for tensor '", tensor.name, "'"));
    }
    detail::convert_elements(tensor.dtype, storage_->bytes().data() + tensor.file_offset, dst, count);
  }

  // A tensor entry while parsing, before the offsets are checked as a whole.
  struct ParsedEntry {
    TensorInfo info;
    std::uint64_t header_offset = 0;  // file offset of the entry's key, for messages
  };

  void parse() {
    const std::span<const std::byte> bytes = storage_->bytes();
    const std::uint64_t file_size = bytes.size();
    if (file_size < 8) {
      fail("file is only ", file_size, " bytes long; a safetensors file starts with an 8-byte ",
           "little-endian header length");
    }
    const std::uint64_t n = detail::read_le64(bytes.data());
    if (n > detail::safetensors_max_header_size) {
      fail("header length ", n, " (in bytes 0-7) exceeds the limit of ",
           detail::safetensors_max_header_size, " bytes");
    }
    if (n > file_size - 8) {
      fail("header length ", n, " (in bytes 0-7) runs past the end of the file: the header would end ",
           "at byte ", 8 + n, " but the file has ", file_size, " bytes");
    }
    header_size_ = n;
    const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + 8,
                                  static_cast<std::size_t>(n));
    if (const std::size_t bad = find_invalid_utf8(header); bad != std::string_view::npos) {
      fail("header is not valid UTF-8 (bad byte at file offset ", 8 + bad, ")");
    }
    if (header.empty() || header.front() != '{') {
      fail("header must be a JSON object starting with '{' at file offset 8",
           header.empty() ? " (the header is empty)" : "");
    }

    std::vector<ParsedEntry> entries;
    try {
      parse_header(header, entries);
    } catch (const JsonError& error) {
      fail("invalid JSON in header at file offset ", 8 + error.offset(), ": ", error.reason());
    }
    check_layout(entries, file_size - 8 - n);

    tensors_.reserve(entries.size());
    names_.reserve(entries.size());
    for (ParsedEntry& entry : entries) {
      entry.info.file_offset = 8 + n + entry.info.begin;
      index_.emplace(entry.info.name, tensors_.size());
      names_.push_back(entry.info.name);
      tensors_.push_back(std::move(entry.info));
    }
  }

  void parse_header(std::string_view header, std::vector<ParsedEntry>& entries) {
    JsonReader reader(header);
    std::map<std::string, std::uint64_t, std::less<>> seen;  // name → header offset of first use
    bool have_metadata = false;
    reader.begin_object();
    std::string key;
    while (reader.next_member(key)) {
      const std::uint64_t key_offset = 8 + reader.last_key_offset();
      if (key == "__metadata__") {
        if (have_metadata) fail("duplicate \"__metadata__\" key at file offset ", key_offset);
        have_metadata = true;
        parse_metadata(reader, key_offset);
        continue;
      }
      const auto [previous, inserted] = seen.emplace(key, key_offset);
      if (!inserted) {
        fail("duplicate tensor name '", key, "' at file offset ", key_offset,
             " (first defined at file offset ", previous->second, ")");
      }
      ParsedEntry entry;
      entry.header_offset = key_offset;
      entry.info.name = key;
      parse_entry(reader, entry);
      entries.push_back(std::move(entry));
    }
    reader.end_document();
  }

  void parse_metadata(JsonReader& reader, std::uint64_t key_offset) {
    if (reader.peek() != JsonType::object) {
      fail("\"__metadata__\" at file offset ", key_offset, " must be an object mapping strings to ",
           "strings, found ", json_type_name(reader.peek()));
    }
    reader.begin_object();
    std::string key;
    while (reader.next_member(key)) {
      const std::uint64_t value_offset = 8 + reader.value_offset();
      if (reader.peek() != JsonType::string) {
        fail("\"__metadata__\" value for key '", key, "' at file offset ", value_offset,
             " must be a string, found ", json_type_name(reader.peek()));
      }
      std::string value = reader.read_string();
      if (!metadata_.emplace(key, std::move(value)).second) {
        fail("duplicate \"__metadata__\" key '", key, "' at file offset ", 8 + reader.last_key_offset());
      }
    }
  }

  // Reads a non-negative JSON integer; `what` describes it for the message.
  template <class... Context>
  std::uint64_t read_non_negative_integer(JsonReader& reader, std::uint64_t limit,
                                          const Context&... context) {
    const std::uint64_t at = 8 + reader.value_offset();
    std::optional<std::uint64_t> value;
    if (reader.peek() == JsonType::number) {
      const JsonNumber number = reader.read_number();
      value = number.as_uint64();
    } else {
      reader.skip_value();
    }
    if (!value || *value > limit) {
      fail(context..., " at file offset ", at, " must be a non-negative integer no larger than ", limit);
    }
    return *value;
  }

  void parse_entry(JsonReader& reader, ParsedEntry& entry) {
    TensorInfo& tensor = entry.info;
    const std::uint64_t entry_offset = 8 + reader.value_offset();
    if (reader.peek() != JsonType::object) {
      fail("tensor '", tensor.name, "' at file offset ", entry_offset, " must be an object with ",
           "\"dtype\", \"shape\" and \"data_offsets\", found ", json_type_name(reader.peek()));
    }
    bool have_dtype = false, have_shape = false, have_offsets = false;
    reader.begin_object();
    std::string field;
    while (reader.next_member(field)) {
      const std::uint64_t field_offset = 8 + reader.last_key_offset();
      const std::uint64_t value_offset = 8 + reader.value_offset();
      if (field == "dtype") {
        if (have_dtype) fail("tensor '", tensor.name, "': duplicate \"dtype\" at file offset ", field_offset);
        have_dtype = true;
        if (reader.peek() != JsonType::string) {
          fail("tensor '", tensor.name, "': \"dtype\" at file offset ", value_offset, " must be a string");
        }
        const std::string name = reader.read_string();
        const std::optional<Dtype> dtype = dtype_from_name(name);
        if (!dtype) {
          std::string known;
          for (const auto& description : detail::dtype_table) {
            known += known.empty() ? "" : ", ";
            known += description.name;
          }
          fail("tensor '", tensor.name, "': unknown dtype \"", name, "\" at file offset ", value_offset,
               " (expected one of ", known, ")");
        }
        tensor.dtype = *dtype;
      } else if (field == "shape") {
        if (have_shape) fail("tensor '", tensor.name, "': duplicate \"shape\" at file offset ", field_offset);
        have_shape = true;
        if (reader.peek() != JsonType::array) {
          fail("tensor '", tensor.name, "': \"shape\" at file offset ", value_offset,
               " must be an array of non-negative integers");
        }
        reader.begin_array();
        while (reader.next_element()) {
          tensor.shape.push_back(static_cast<std::int64_t>(read_non_negative_integer(
              reader, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
              "tensor '", tensor.name, "': shape entry ", tensor.shape.size())));
        }
      } else if (field == "data_offsets") {
        if (have_offsets) {
          fail("tensor '", tensor.name, "': duplicate \"data_offsets\" at file offset ", field_offset);
        }
        have_offsets = true;
        if (reader.peek() != JsonType::array) {
          fail("tensor '", tensor.name, "': data_offsets at file offset ", value_offset,
               " must be an array of two integers [begin, end]");
        }
        std::uint64_t offsets[2] = {0, 0};
        std::size_t count = 0;
        reader.begin_array();
        while (reader.next_element()) {
          if (count == 2) {
            fail("tensor '", tensor.name, "': data_offsets at file offset ", value_offset,
                 " must be an array of two integers [begin, end], found more than two");
          }
          offsets[count] = read_non_negative_integer(reader, std::numeric_limits<std::uint64_t>::max(),
                                                     "tensor '", tensor.name, "': data_offsets entry ", count);
          ++count;
        }
        if (count != 2) {
          fail("tensor '", tensor.name, "': data_offsets at file offset ", value_offset,
               " must be an array of two integers [begin, end], found ", count);
        }
        if (offsets[1] < offsets[0]) {
          fail("tensor '", tensor.name, "': data_offsets [", offsets[0], ", ", offsets[1],
               "] at file offset ", value_offset, " end before they begin");
        }
        tensor.begin = offsets[0];
        tensor.end = offsets[1];
      } else {
        fail("tensor '", tensor.name, "': unknown key \"", field, "\" at file offset ", field_offset,
             " (expected only \"dtype\", \"shape\" and \"data_offsets\")");
      }
    }
    const char* missing = !have_dtype ? "dtype" : !have_shape ? "shape" : !have_offsets ? "data_offsets" : nullptr;
    if (missing != nullptr) {
      fail("tensor '", tensor.name, "' at file offset ", entry_offset, " is missing \"", missing, "\"");
    }

    // numel: the product of the non-zero extents must fit int64 even when another extent is 0,
    // so the check does not depend on the order of the extents.
    constexpr auto max_numel = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    std::uint64_t nonzero_product = 1;
    bool has_zero_extent = false;
    for (const std::int64_t extent : tensor.shape) {
      if (extent == 0) {
        has_zero_extent = true;
        continue;
      }
      const auto factor = static_cast<std::uint64_t>(extent);
      if (nonzero_product > max_numel / factor) {
        fail("tensor '", tensor.name, "' at file offset ", entry_offset, ": the element count of shape ",
             detail::shape_text(tensor.shape), " overflows 64-bit arithmetic");
      }
      nonzero_product *= factor;
    }
    const std::uint64_t numel = has_zero_extent ? 0 : nonzero_product;
    const std::uint64_t item_size = dtype_size(tensor.dtype);
    if (numel > std::numeric_limits<std::uint64_t>::max() / item_size) {
      fail("tensor '", tensor.name, "' at file offset ", entry_offset, ": the byte size of shape ",
           detail::shape_text(tensor.shape), " with dtype ", dtype_name(tensor.dtype),
           " overflows 64-bit arithmetic");
    }
    tensor.numel = static_cast<std::int64_t>(numel);
    const std::uint64_t needed = numel * item_size;
    if (needed != tensor.end - tensor.begin) {
      fail("tensor '", tensor.name, "' at file offset ", entry_offset, ": data_offsets [", tensor.begin,
           ", ", tensor.end, "] span ", tensor.end - tensor.begin, " bytes, but dtype ",
           dtype_name(tensor.dtype), " with shape ", detail::shape_text(tensor.shape), " needs ", needed,
           " bytes");
    }
  }

  // The data section must be tiled exactly: sorted by offset, the tensors start at 0, each
  // begins where the previous ended, and the last ends at the end of the file.
  void check_layout(std::vector<ParsedEntry>& entries, std::uint64_t data_size) const {
    std::stable_sort(entries.begin(), entries.end(), [](const ParsedEntry& a, const ParsedEntry& b) {
      return a.info.begin != b.info.begin ? a.info.begin < b.info.begin : a.info.end < b.info.end;
    });
    std::uint64_t expected = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const TensorInfo& tensor = entries[i].info;
      if (tensor.begin != expected) {
        if (i == 0) {
          fail("the first tensor in the data section, '", tensor.name, "' (header at file offset ",
               entries[i].header_offset, "), starts at data offset ", tensor.begin,
               "; the data must start at offset 0 with no gap");
        }
        const TensorInfo& previous = entries[i - 1].info;
        if (tensor.begin < expected) {
          fail("tensor '", tensor.name, "' (header at file offset ", entries[i].header_offset,
               ", data_offsets [", tensor.begin, ", ", tensor.end, "]) overlaps tensor '", previous.name,
               "' (data_offsets [", previous.begin, ", ", previous.end, "]); expected it to start at ",
               expected);
        }
        fail("gap of ", tensor.begin - expected, " bytes in the data section between tensor '",
             previous.name, "' (ends at data offset ", expected, ") and tensor '", tensor.name,
             "' (header at file offset ", entries[i].header_offset, ", starts at ", tensor.begin,
             "); tensors must be contiguous");
      }
      expected = tensor.end;
    }
    if (expected < data_size) {
      fail("found ", data_size - expected, " trailing byte(s) after the last tensor: the data section ",
           "is ", data_size, " bytes but the tensors end at data offset ", expected, " (file offset ",
           8 + header_size_ + expected, ")");
    }
    if (expected > data_size) {
      fail("the file is truncated: the tensors need a data section of ", expected,
           " bytes but only ", data_size, " bytes follow the header (file size should be ",
           8 + header_size_ + expected, ")");
    }
  }

  std::unique_ptr<detail::ByteStorage> storage_;
  std::string source_name_;
  std::uint64_t header_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::vector<std::string> names_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// ------------------------------------------------------------------------------------------
// Sharded checkpoints
// ------------------------------------------------------------------------------------------

/// A checkpoint split over several safetensors files, described by an index JSON
/// ({"metadata": {...}, "weight_map": {tensor name: shard file name}}). Shard file names must be
/// plain names in the index's directory. Each shard is opened on first use, once, and at that
/// moment every tensor the index maps to it must exist in it (IoError otherwise); tensors a shard
/// holds beyond the index are ignored. Thread-safe for concurrent const calls.
class ShardedSafetensors {
 public:
  static ShardedSafetensors open(const std::filesystem::path& index_path,
                                 LoadMode mode = LoadMode::map_or_read) {
    ShardedSafetensors sharded;
    sharded.index_path_ = index_path.string();
    sharded.directory_ = index_path.parent_path();
    sharded.mode_ = mode;
    sharded.parse_index(read_index_text(index_path));
    sharded.opened_.resize(sharded.shard_files_.size());
    return sharded;
  }

  /// Tensor names in the order of the index's weight_map.
  const std::vector<std::string>& names() const noexcept { return names_; }
  std::size_t size() const noexcept { return names_.size(); }
  bool contains(std::string_view name) const { return shard_of_name_.find(name) != shard_of_name_.end(); }
  /// Distinct shard file names in order of first appearance in the weight_map.
  const std::vector<std::string>& shard_files() const noexcept { return shard_files_; }
  /// The shard file holding tensor `name`.
  const std::string& shard_file_of(std::string_view name) const { return shard_files_[shard_index(name)]; }

  /// The index's "metadata" object; string values as they are, other values as compact JSON
  /// text (e.g. "total_size" → "602423296").
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  const TensorInfo& info(std::string_view name) const { return shard_at(shard_index(name)).info(name); }

  void read_as_float(std::string_view name, float* dst, std::size_t count) const {
    shard_at(shard_index(name)).read_as_float(name, dst, count);
  }
  std::vector<float> read_as_float(std::string_view name) const {
    return shard_at(shard_index(name)).read_as_float(name);
  }
  void read_as_double(std::string_view name, double* dst, std::size_t count) const {
    shard_at(shard_index(name)).read_as_double(name, dst, count);
  }
  std::vector<double> read_as_double(std::string_view name) const {
    return shard_at(shard_index(name)).read_as_double(name);
  }

  /// The opened shard with this file name (opening it if needed).
  const SafetensorsFile& shard(std::string_view shard_file) const {
    const auto found = std::find(shard_files_.begin(), shard_files_.end(), shard_file);
    if (found == shard_files_.end()) {
      fail("no shard named '", shard_file, "' in the weight_map");
    }
    return shard_at(static_cast<std::size_t>(found - shard_files_.begin()));
  }

  /// Opens (and so validates) every shard now rather than on first use.
  void open_all_shards() const {
    for (std::size_t i = 0; i < shard_files_.size(); ++i) shard_at(i);
  }

 private:
  ShardedSafetensors() : mutex_(std::make_unique<std::mutex>()) {}

  template <class... Parts>
  [[noreturn]] void fail(Parts&&... parts) const {
    throw IoError(skiptune::detail::message("sharded safetensors index '", index_path_, "': ",
                                            std::forward<Parts>(parts)...));
  }

  static std::string read_index_text(const std::filesystem::path& path) {
    const auto storage = detail::load_file_bytes(path, LoadMode::read);
    const auto bytes = storage->bytes();
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  static bool is_plain_file_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
  }

  void parse_index(const std::string& text) {
    bool have_weight_map = false;
    try {
      JsonReader reader(text);
      if (reader.peek() != JsonType::object) fail("the index must be a JSON object");
      reader.begin_object();
      std::string key;
      while (reader.next_member(key)) {
        if (key == "weight_map") {
          if (have_weight_map) fail("duplicate \"weight_map\" at byte ", reader.last_key_offset());
          have_weight_map = true;
          parse_weight_map(reader);
        } else if (key == "metadata") {
          const std::size_t at = reader.value_offset();
          const JsonValue metadata = read_json_value(reader);
          if (!metadata.is_object()) fail("\"metadata\" at byte ", at, " must be an object");
          for (const auto& [name, value] : metadata.as_object()) {
            metadata_[name] = value.is_string() ? value.as_string() : to_json(value);
          }
        } else {
          reader.skip_value();  // other keys are not part of the convention; tolerate them
        }
      }
      reader.end_document();
    } catch (const JsonError& error) {
      fail("invalid JSON at byte ", error.offset(), ": ", error.reason());
    }
    if (!have_weight_map) fail("missing \"weight_map\" object");
  }

  void parse_weight_map(JsonReader& reader) {
    const std::size_t at = reader.value_offset();
    if (reader.peek() != JsonType::object) {
      fail("\"weight_map\" at byte ", at, " must be an object mapping tensor names to shard files");
    }
    reader.begin_object();
    std::string name;
    while (reader.next_member(name)) {
      const std::size_t name_offset = reader.last_key_offset();
      const std::size_t value_offset = reader.value_offset();
      if (reader.peek() != JsonType::string) {
        fail("weight_map entry for tensor '", name, "' at byte ", value_offset, " must be a shard file name string");
      }
      const std::string file = reader.read_string();
      if (!is_plain_file_name(file)) {
        fail("shard file '", file, "' for tensor '", name, "' at byte ", value_offset,
             " must be a plain file name in the index's directory (no '/', '\\', '.' or '..')");
      }
      auto shard = std::find(shard_files_.begin(), shard_files_.end(), file);
      if (shard == shard_files_.end()) {
        shard_files_.push_back(file);
        names_in_shard_.emplace_back();
        shard = shard_files_.end() - 1;
      }
      const auto shard_number = static_cast<std::size_t>(shard - shard_files_.begin());
      if (!shard_of_name_.emplace(name, shard_number).second) {
        fail("duplicate tensor name '", name, "' in weight_map at byte ", name_offset);
      }
      names_in_shard_[shard_number].push_back(name);
      names_.push_back(name);
    }
  }

  std::size_t shard_index(std::string_view name) const {
    const auto found = shard_of_name_.find(name);
    if (found == shard_of_name_.end()) fail("no tensor named '", name, "' in the weight_map");
    return found->second;
  }

  const SafetensorsFile& shard_at(std::size_t number) const {
    const std::lock_guard lock(*mutex_);
    if (!opened_[number]) {
      auto file = std::make_unique<SafetensorsFile>(
          SafetensorsFile::open(directory_ / shard_files_[number], mode_));
      for (const std::string& name : names_in_shard_[number]) {
        if (!file->contains(name)) {
          fail("the weight_map puts tensor '", name, "' in shard '", shard_files_[number],
               "', but that shard has no such tensor");
        }
      }
      opened_[number] = std::move(file);
    }
    return *opened_[number];
  }

  std::string index_path_;
  std::filesystem::path directory_;
  LoadMode mode_ = LoadMode::map_or_read;
  std::vector<std::string> names_;
  std::vector<std::string> shard_files_;
  std::vector<std::vector<std::string>> names_in_shard_;
  std::map<std::string, std::size_t, std::less<>> shard_of_name_;
  std::map<std::string, std::string> metadata_;
  std::unique_ptr<std::mutex> mutex_;
  mutable std::vector<std::unique_ptr<SafetensorsFile>> opened_;
};

// ------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------

/// A float32 tensor to write: a name, a shape ({} for a scalar) and a pointer to numel values
/// in row-major order (may be null when numel is 0). The data is only read, never kept.
struct FloatTensorView {
  std::string name;
  std::vector<std::int64_t> shape;
  const float* data = nullptr;
};

namespace detail {

/// Removes the temporary file (and closes it) unless the write was committed.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && created_) ::unlink(path_.c_str());
  }
  void create() {
    // O_NOFOLLOW: never write through a symlink someone planted at our temporary name.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd_ < 0) fail_errno("cannot create temporary file");
    created_ = true;
  }
  void write(const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
      const ::ssize_t written = ::write(fd_, p, size);
      if (written < 0) {
        if (errno == EINTR) continue;
        fail_errno("write failed");
      }
      p += written;
      size -= static_cast<std::size_t>(written);
    }
  }
  void sync_and_close() {
    if (::fsync(fd_) != 0) fail_errno("fsync failed");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail_errno("close failed");
  }
  void commit_as(const std::string& target) {
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      const int error = errno;
      throw IoError(skiptune::detail::message("cannot write safetensors file '", target, "': rename of '",
                                              path_, "' failed: ", errno_text(error)));
    }
    committed_ = true;
  }
  const std::string& path() const noexcept { return path_; }

 private:
  [[noreturn]] void fail_errno(std::string_view what) const {
    const int error = errno;
    throw IoError(skiptune::detail::message("cannot write safetensors file via '", path_, "': ", what,
                                            ": ", errno_text(error)));
  }
  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  bool committed_ = false;
};

/// Makes the rename durable. Best effort: by now the new file is complete and in place, so a
/// failure here is not reported as a failed write.
inline void sync_directory(const std::filesystem::path& directory) {
  const std::string name = directory.empty() ? std::string(".") : directory.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace detail

/// Writes `tensors` to `path` as safetensors with element type `dtype` (F32, F16 or BF16).
///
/// * Order: tensors are laid out and listed in the header in the order given (so names() of the
///   reopened file returns the same order); "__metadata__" comes first in the header if
///   non-empty.
/// * The header is padded with spaces so the data section starts at a multiple of 8.
/// * Atomic: data goes to "<path>.tmp.<pid>" in the same directory, is fsync'ed, then renamed
///   over `path`. An existing file at `path` is untouched until the new one is complete; on any
///   error the temporary file is removed. Do not save to the same path from two threads at once.
/// * Errors: invalid arguments (unsupported dtype, empty/duplicate/"__metadata__"/non-UTF-8
///   names, null data) are InputError, negative or overflowing shapes ShapeError, both thrown
///   before any file is created; system failures are IoError.
inline void write_safetensors(const std::filesystem::path& path, std::span<const FloatTensorView> tensors,
                              const std::map<std::string, std::string>& metadata = {},
                              Dtype dtype = Dtype::F32) {
  const std::string target = path.string();
  auto invalid = [&](auto&&... parts) {
    return InputError(skiptune::detail::message("cannot write safetensors file '", target, "': ", parts...));
  };
  if (dtype != Dtype::F32 && dtype != Dtype::F16 && dtype != Dtype::BF16) {
    throw invalid("dtype ", dtype_name(dtype), " is not supported (expected F32, F16 or BF16)");
  }
  const std::uint64_t item_size = dtype_size(dtype);

  // Validate everything and build the header before touching the file system.
  std::vector<std::uint64_t> counts;
  counts.reserve(tensors.size());
  std::map<std::string_view, bool> seen;
  JsonWriter header;
  header.begin_object();
  if (!metadata.empty()) {
    header.key("__metadata__").begin_object();
    for (const auto& [key, value] : metadata) {
      if (!is_valid_utf8(key) || !is_valid_utf8(value)) throw invalid("metadata entry is not valid UTF-8");
      header.key(key).string(value);
    }
    header.end_object();
  }
  std::uint64_t offset = 0;
  for (const FloatTensorView& tensor : tensors) {
    if (tensor.name.empty()) throw invalid("a tensor has an empty name");
    if (tensor.name == "__metadata__") throw invalid("\"__metadata__\" is reserved and cannot name a tensor");
    if (!is_valid_utf8(tensor.name)) throw invalid("tensor name is not valid UTF-8");
    if (!seen.emplace(tensor.name, true).second) throw invalid("duplicate tensor name '", tensor.name, "'");
    std::uint64_t numel = 1;
    for (const std::int64_t extent : tensor.shape) {
      if (extent < 0) {
        throw ShapeError(skiptune::detail::message("cannot write safetensors file '", target, "': tensor '",
                                                   tensor.name, "' has negative extent in shape ",
                                                   detail::shape_text(tensor.shape)));
      }
      const auto factor = static_cast<std::uint64_t>(extent);
      if (factor != 0 && numel > (std::numeric_limits<std::uint64_t>::max() / item_size) / factor) {
        throw ShapeError(skiptune::detail::message("cannot write safetensors file '", target, "': tensor '",
                                                   tensor.name, "' shape ", detail::shape_text(tensor.shape),
                                                   " is too large"));
      }
      numel *= factor;
    }
    if (numel > 0 && tensor.data == nullptr) throw invalid("tensor '", tensor.name, "' has null data");
    const std::uint64_t bytes = numel * item_size;
    if (offset > std::numeric_limits<std::uint64_t>::max() - bytes) throw invalid("total size overflows");
    header.key(tensor.name).begin_object();
    header.key("dtype").string(dtype_name(dtype));
    header.key("shape").begin_array();
    for (const std::int64_t extent : tensor.shape) header.integer(extent);
    header.end_array();
    header.key("data_offsets").begin_array().integer(offset).integer(offset + bytes).end_array();
    header.end_object();
    offset += bytes;
    counts.push_back(numel);
  }
  header.end_object();
  std::string header_text = header.take();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  if (header_text.size() > detail::safetensors_max_header_size) {
    throw invalid("header would be ", header_text.size(), " bytes, over the format's limit of ",
                  detail::safetensors_max_header_size);
  }

  detail::TemporaryFile temporary(target + ".tmp." + std::to_string(::getpid()));
  temporary.create();
  const std::uint64_t header_length = header_text.size();
  temporary.write(&header_length, sizeof header_length);  // little-endian host
  temporary.write(header_text.data(), header_text.size());

  constexpr std::size_t chunk_elements = 1 << 16;
  std::vector<std::uint16_t> chunk;
  if (dtype != Dtype::F32) chunk.resize(chunk_elements);
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const float* data = tensors[t].data;
    const std::uint64_t numel = counts[t];
    if (dtype == Dtype::F32) {
      // float32 is already the file format; write straight from the caller's memory in slices
      // small enough for any write() implementation.
      for (std::uint64_t done = 0; done < numel; done += chunk_elements * 16) {
        const std::uint64_t n = std::min<std::uint64_t>(chunk_elements * 16, numel - done);
        temporary.write(data + done, static_cast<std::size_t>(n) * sizeof(float));
      }
      continue;
    }
    for (std::uint64_t done = 0; done < numel; done += chunk_elements) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_elements, numel - done));
      for (std::size_t i = 0; i < n; ++i) {
        chunk[i] = dtype == Dtype::F16 ? float_to_half_bits(data[done + i]) : float_to_bfloat16_bits(data[done + i]);
      }
      temporary.write(chunk.data(), n * sizeof(std::uint16_t));
    }
  }
  temporary.sync_and_close();
  temporary.commit_as(target);
  detail::sync_directory(path.parent_path());
}

/// Convenience overload for a braced list or vector of tensors.
inline void write_safetensors(const std::filesystem::path& path, const std::vector<FloatTensorView>& tensors,
                              const std::map<std::string, std::string>& metadata = {},
                              Dtype dtype = Dtype::F32) {
  write_safetensors(path, std::span<const FloatTensorView>(tensors), metadata, dtype);
}

}  // namespace skiptune::io
