// skiptune/io/npy.hpp — NumPy .npy files to and from skiptune tensors, through xtensor (the one
// place xtensor is included). Used for PyTorch reference fixtures and for dumping results.
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune::io {

/// Read a .npy of element type `T` (exactly; no conversion) into a new tensor.
template <class T>
Tensor<T> load_npy(const std::filesystem::path& path, MemoryMeter& meter,
                   MemoryCategory category = MemoryCategory::inputs) {
  require<IoError>(std::filesystem::exists(path), "npy file ", path.string(), " does not exist");
  xt::xarray<T> array;
  try {
    array = xt::load_npy<T>(path.string());
  } catch (const std::exception& e) {
    throw IoError(detail::message("cannot read npy file ", path.string(), ": ", e.what()));
  }
  require<IoError>(array.dimension() <= static_cast<std::size_t>(Shape::max_rank), "npy file ", path.string(),
                   " has ", array.dimension(), " dimensions; skiptune tensors have at most ", Shape::max_rank);
  Shape shape;
  switch (array.dimension()) {
    case 0: shape = Shape{}; break;
    case 1: shape = Shape{Index(array.shape()[0])}; break;
    case 2: shape = Shape{Index(array.shape()[0]), Index(array.shape()[1])}; break;
    case 3: shape = Shape{Index(array.shape()[0]), Index(array.shape()[1]), Index(array.shape()[2])}; break;
    default:
      shape = Shape{Index(array.shape()[0]), Index(array.shape()[1]), Index(array.shape()[2]), Index(array.shape()[3])};
  }
  Tensor<T> out(shape, meter, category);
  std::copy(array.begin(), array.end(), out.data());
  return out;
}

/// Read a .npy of element type `Stored` and convert it to `T`.
template <class T, class Stored>
Tensor<T> load_npy_as(const std::filesystem::path& path, MemoryMeter& meter,
                      MemoryCategory category = MemoryCategory::inputs) {
  Tensor<Stored> stored = load_npy<Stored>(path, meter, MemoryCategory::workspace);
  Tensor<T> out(stored.shape(), meter, category);
  for (Index i = 0; i < stored.numel(); ++i) out[i] = static_cast<T>(stored[i]);
  return out;
}

/// Write a tensor as .npy.
template <class T>
void save_npy(const std::filesystem::path& path, const Tensor<T>& tensor) {
  std::vector<std::size_t> shape;
  for (int i = 0; i < tensor.rank(); ++i) shape.push_back(static_cast<std::size_t>(tensor.dim(i)));
  auto view = xt::adapt(tensor.data(), static_cast<std::size_t>(tensor.numel()), xt::no_ownership(), shape);
  xt::dump_npy(path.string(), view);
}

}  // namespace skiptune::io
