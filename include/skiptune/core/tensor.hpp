// skiptune/core/tensor.hpp — an owning, row-major, dense tensor of up to 4 dimensions whose
// memory is counted by a MemoryMeter, plus Eigen maps that say RowMajor explicitly.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/memory.hpp"

namespace skiptune {

using Index = std::int64_t;

/// Up to 4 extents, row-major (last extent varies fastest).
class Shape {
 public:
  static constexpr int max_rank = 4;

  Shape() = default;
  Shape(std::initializer_list<Index> extents) {
    require<ShapeError>(extents.size() <= max_rank, "a Shape has at most ", max_rank, " extents, got ",
                        extents.size());
    for (Index e : extents) {
      require<ShapeError>(e >= 0, "a Shape extent must be >= 0, got ", e);
      extents_[rank_++] = e;
    }
  }

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] Index operator[](int axis) const noexcept { return extents_[axis]; }

  /// Number of elements, with overflow checked.
  [[nodiscard]] Index numel() const {
    Index n = 1;
    for (int i = 0; i < rank_; ++i) {
      require<ShapeError>(extents_[i] == 0 || n <= std::numeric_limits<Index>::max() / extents_[i],
                          "shape ", to_string(), " has more elements than fit in 64 bits");
      n *= extents_[i];
    }
    return n;
  }

  [[nodiscard]] std::string to_string() const {
    std::ostringstream out;
    out << '[';
    for (int i = 0; i < rank_; ++i) out << (i ? "," : "") << extents_[i];
    out << ']';
    return out.str();
  }

  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.extents_[i] != b.extents_[i]) return false;
    return true;
  }
  friend std::ostream& operator<<(std::ostream& out, const Shape& s) { return out << s.to_string(); }

 private:
  std::array<Index, max_rank> extents_{};
  int rank_ = 0;
};

/// Row-major Eigen views over raw buffers.
template <class T>
using MatrixRM = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<MatrixRM<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const MatrixRM<T>>;
/// Row-major view whose rows are `stride` elements apart (a column block of a wider matrix).
template <class T>
using StridedMatrixMap = Eigen::Map<MatrixRM<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstStridedMatrixMap = Eigen::Map<const MatrixRM<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using VectorMap = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic, Eigen::RowMajor>>;
template <class T>
using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic, Eigen::RowMajor>>;

/// Owning tensor. Move-only; memory comes from (and is returned to) a MemoryMeter under one
/// category. A default-constructed Tensor is empty and owns nothing.
template <class T>
class Tensor {
 public:
  using value_type = T;

  Tensor() = default;
  Tensor(Shape shape, MemoryMeter& meter, MemoryCategory category)
      : shape_(shape), meter_(&meter), category_(category) {
    const Index n = shape_.numel();
    data_ = static_cast<T*>(meter.allocate(static_cast<std::size_t>(n) * sizeof(T), category));
  }

  static Tensor zeros(Shape shape, MemoryMeter& meter, MemoryCategory category) {
    Tensor t(shape, meter, category);
    t.fill(T{0});
    return t;
  }

  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  Tensor(Tensor&& other) noexcept { swap(other); }
  Tensor& operator=(Tensor&& other) noexcept {
    if (this != &other) {
      release();
      swap(other);
    }
    return *this;
  }
  ~Tensor() { release(); }

  /// A deep copy in the same meter, under `category` (default: the same category).
  [[nodiscard]] Tensor clone() const { return clone(category_); }
  [[nodiscard]] Tensor clone(MemoryCategory category) const {
    require(meter_ != nullptr || numel() == 0, "cannot clone a tensor that owns no meter");
    if (meter_ == nullptr) return Tensor();
    Tensor copy(shape_, *meter_, category);
    if (numel() > 0) std::memcpy(copy.data_, data_, bytes());
    return copy;
  }

  /// Free the memory now (the tensor becomes empty).
  void release() noexcept {
    if (meter_ != nullptr) meter_->deallocate(data_, bytes(), category_);
    data_ = nullptr;
    meter_ = nullptr;
    shape_ = Shape();
  }

  void fill(T value) noexcept { std::fill_n(data_, numel(), value); }

  /// Same data, new shape with the same number of elements.
  void reshape(Shape shape) {
    require<ShapeError>(shape.numel() == shape_.numel(), "cannot reshape ", shape_, " to ", shape);
    shape_ = shape;
  }

  [[nodiscard]] const Shape& shape() const noexcept { return shape_; }
  [[nodiscard]] Index dim(int axis) const noexcept { return shape_[axis]; }
  [[nodiscard]] int rank() const noexcept { return shape_.rank(); }
  [[nodiscard]] Index numel() const noexcept {
    Index n = shape_.rank() == 0 && meter_ == nullptr ? 0 : 1;
    for (int i = 0; i < shape_.rank(); ++i) n *= shape_[i];
    return n;
  }
  [[nodiscard]] std::size_t bytes() const noexcept { return static_cast<std::size_t>(numel()) * sizeof(T); }
  [[nodiscard]] bool empty() const noexcept { return meter_ == nullptr; }
  [[nodiscard]] MemoryCategory category() const noexcept { return category_; }
  [[nodiscard]] MemoryMeter* meter() const noexcept { return meter_; }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  T& operator[](Index i) noexcept { return data_[i]; }
  const T& operator[](Index i) const noexcept { return data_[i]; }

  /// View as a row-major matrix: rows = product of all but the last extent (rank ≥ 1).
  [[nodiscard]] MatrixMap<T> matrix() noexcept { return MatrixMap<T>(data_, rows(), cols()); }
  [[nodiscard]] ConstMatrixMap<T> matrix() const noexcept { return ConstMatrixMap<T>(data_, rows(), cols()); }
  [[nodiscard]] VectorMap<T> vector() noexcept { return VectorMap<T>(data_, numel()); }
  [[nodiscard]] ConstVectorMap<T> vector() const noexcept { return ConstVectorMap<T>(data_, numel()); }

  [[nodiscard]] Index cols() const noexcept { return shape_.rank() == 0 ? 1 : shape_[shape_.rank() - 1]; }
  [[nodiscard]] Index rows() const noexcept { return cols() == 0 ? 0 : numel() / cols(); }

 private:
  void swap(Tensor& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(shape_, other.shape_);
    std::swap(meter_, other.meter_);
    std::swap(category_, other.category_);
  }

  T* data_ = nullptr;
  Shape shape_{};
  MemoryMeter* meter_ = nullptr;
  MemoryCategory category_ = MemoryCategory::workspace;
};

/// Throw a ShapeError naming `what` unless `tensor` has exactly `expected` shape.
template <class T>
inline void expect_shape(const Tensor<T>& tensor, const Shape& expected, std::string_view what) {
  require<ShapeError>(tensor.shape() == expected, "tensor ", what, " has shape ", tensor.shape(),
                      ", expected ", expected);
}

}  // namespace skiptune
