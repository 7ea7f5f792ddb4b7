#include "mnist/tensor.hpp"

#include <functional>
#include <numeric>

#include "mnist/error.hpp"

namespace mnist {

std::size_t numel(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::size_t{1}, std::multiplies<>());
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Tensor::Tensor(Shape shape) : shape_(std::move(shape)), data_(mnist::numel(shape_), 0.0f) {}

Tensor::Tensor(Shape shape, std::vector<float> values) : shape_(std::move(shape)), data_(std::move(values)) {
  if (data_.size() != mnist::numel(shape_))
    throw Error("tensor of shape " + shape_string(shape_) + " given " + std::to_string(data_.size()) + " values");
}

Tensor Tensor::reshape(Shape shape) const {
  if (mnist::numel(shape) != data_.size())
    throw Error("cannot reshape " + shape_string(shape_) + " to " + shape_string(shape));
  return Tensor(std::move(shape), data_);
}

}  // namespace mnist
