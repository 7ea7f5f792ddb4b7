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
  float* data = nullptr;
  Shape shape;

  std::size_t size() const { return numel(shape); }
  std::span<float> span() const { return {data, size()}; }
};

/// A float32 tensor that owns its row-major buffer.
class Tensor {
 public:
  Tensor() = default;
  /// Zero-filled tensor of the given shape.
  explicit Tensor(Shape shape);
  Tensor(Shape shape, std::vector<float> values);  // values.size() must equal numel(shape)

  const Shape& shape() const { return shape_; }
  std::size_t dim() const { return shape_.size(); }
  std::size_t size(std::size_t d) const { return shape_.at(d); }
  std::size_t numel() const { return data_.size(); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  std::span<float> span() { return data_; }
  std::span<const float> span() const { return data_; }
  TensorView view() { return {data_.data(), shape_}; }

  /// Element of a 2-D tensor.
  float& at(std::size_t row, std::size_t col) { return data_[row * shape_.at(1) + col]; }
  float at(std::size_t row, std::size_t col) const { return data_[row * shape_.at(1) + col]; }
  float& operator[](std::size_t i) { return data_[i]; }
  float operator[](std::size_t i) const { return data_[i]; }

  /// Same data read with another shape of equal element count.
  Tensor reshape(Shape shape) const;

 private:
  Shape shape_;
  std::vector<float> data_;
};

}  // namespace mnist
