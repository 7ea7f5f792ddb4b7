// A float32 row-major tensor (owning buffer + shape) and a non-owning view of one.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace mnist {

/// Shape of a tensor, outermost dimension first (row-major).
using Shape = std::vector<std::size_t>;

/// Number of elements of a shape (1 for a scalar shape {}).
std::size_t numel(const Shape& shape);

/// "[1, 28, 28]"
std::string shape_string(const Shape& shape);

/// A non-owning view: a span of floats and the shape it is read with.
struct TensorView {
  float* data = nullptr;  ///< First element, not owned: the tensor or buffer viewed must outlive the view.
  Shape shape;            ///< How the numel(shape) floats at data are read, row-major.

  /// Number of floats viewed: numel(shape).
  std::size_t size() const { return numel(shape); }
  /// The viewed floats as a span of size() elements.
  std::span<float> span() const { return {data, size()}; }
};

/// A float32 tensor that owns its row-major buffer.
class Tensor {
 public:
  /// An empty tensor: no dimensions and no elements (numel() == 0).
  Tensor() = default;
  /// Zero-filled tensor of the given shape.
  explicit Tensor(Shape shape);
  /// Takes ownership of values, read row-major with shape. Throws Error when values.size() != numel(shape).
  Tensor(Shape shape, std::vector<float> values);

  /// Dimensions, outermost first: {1, 28, 28} for one image.
  const Shape& shape() const { return shape_; }
  /// Number of dimensions (PyTorch's dim()): 3 for {1, 28, 28}.
  std::size_t dim() const { return shape_.size(); }
  /// Extent of dimension d; throws std::out_of_range when d >= dim().
  std::size_t size(std::size_t d) const { return shape_.at(d); }
  /// Total number of elements (the product of the shape).
  std::size_t numel() const { return data_.size(); }

  /// Pointer to the first of numel() contiguous row-major floats, owned by the tensor.
  float* data() { return data_.data(); }
  /// Read-only pointer to the first of numel() contiguous row-major floats.
  const float* data() const { return data_.data(); }
  /// All elements, row-major, as a span (valid while the tensor lives and is not reassigned).
  std::span<float> span() { return data_; }
  /// All elements, row-major, read-only.
  std::span<const float> span() const { return data_; }
  /// A non-owning view of this tensor (its data and a copy of its shape); valid while the tensor lives.
  TensorView view() { return {data_.data(), shape_}; }

  /// Element (row, col) of a 2-D tensor, writable; not bounds-checked (the tensor must have 2 dimensions).
  float& at(std::size_t row, std::size_t col) { return data_[row * shape_.at(1) + col]; }
  /// Element (row, col) of a 2-D tensor; not bounds-checked (the tensor must have 2 dimensions).
  float at(std::size_t row, std::size_t col) const { return data_[row * shape_.at(1) + col]; }
  /// Element i of the flat row-major buffer, writable; not bounds-checked (i < numel()).
  float& operator[](std::size_t i) { return data_[i]; }
  /// Element i of the flat row-major buffer; not bounds-checked (i < numel()).
  float operator[](std::size_t i) const { return data_[i]; }

  /// Same data read with another shape of equal element count (a copy); throws Error when the counts differ.
  Tensor reshape(Shape shape) const;

 private:
  Shape shape_;
  std::vector<float> data_;
};

}  // namespace mnist
