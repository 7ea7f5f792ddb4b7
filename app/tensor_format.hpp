// Printing probabilities the way PyTorch prints a tensor, so that output reads like the tutorial's
// (`tensor([[1.2345e-04, ...]])`: four significant decimals, scientific when the values span orders of magnitude,
// wrapped at 80 columns).
#pragma once
#include <span>
#include <string>

namespace mnist::cli {

/// A 1xN row as PyTorch's repr of a [1, N] float tensor, without a trailing newline.
std::string torch_style_row(std::span<const float> values);

}  // namespace mnist::cli
