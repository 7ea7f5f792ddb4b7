// 2-D max and average pooling (torch.nn.MaxPool2d / AvgPool2d: no padding, floor mode, count_include_pad moot),
// NCHW. Each function handles planes [p0, p1) of the N·C planes, so the layer can split a batch into fixed chunks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/batchnorm2d.hpp"  // ChannelAffine: the fused pooling takes batch norm's transform

namespace mnist::kernels {

/// Input plane H x W, window K x K moved by stride: output plane OH x OW.
struct Pool2dShape {
  std::size_t H = 28, W = 28, K = 2, stride = 2;
  std::size_t OH() const { return (H - K) / stride + 1; }  ///< needs H >= K
  std::size_t OW() const { return (W - K) / stride + 1; }
};

/// y [planes, OH, OW] = max over each window of x [planes, H, W]; argmax [planes, OH·OW] records the index
/// (within its input plane) of the FIRST maximum in row-major window order, as PyTorch does (NaN wins, as there).
void maxpool2d_forward(std::span<float> y, std::span<std::uint32_t> argmax, std::span<const float> x,
                       const Pool2dShape& s, std::size_t p0, std::size_t p1);
/// dx [planes, H, W] of planes [p0, p1): zeroed, then dx[argmax] += dy (overlapping windows accumulate).
void maxpool2d_backward(std::span<float> dx, std::span<const float> dy, std::span<const std::uint32_t> argmax,
                        const Pool2dShape& s, std::size_t p0, std::size_t p1);

/// maxpool2d_forward of relu(x) without writing relu(x): each element counts as `x > 0 ? x : 0` (relu_forward's
/// function, so a NaN or -0 counts as +0), which makes y and argmax bit for bit those of relu_forward then
/// maxpool2d_forward, on a quarter of the passes over memory for 2x2 windows.
void relu_maxpool2d_forward(std::span<float> y, std::span<std::uint32_t> argmax, std::span<const float> x,
                            const Pool2dShape& s, std::size_t p0, std::size_t p1);
/// relu_maxpool2d_forward of batchnorm2d_forward_eval's output without writing it: each element counts as
/// ReLU(x·alpha + shift) of its channel (affine[plane % affine.size()], NCHW), the product rounded, then the sum, as
/// batchnorm2d_forward_eval; so y and argmax are bit for bit those of the three layers in eval mode.
void batchnorm_relu_maxpool2d_forward(std::span<float> y, std::span<std::uint32_t> argmax, std::span<const float> x,
                                      std::span<const ChannelAffine> affine, const Pool2dShape& s, std::size_t p0,
                                      std::size_t p1);
/// The three forwards above with 2x2 stride-2 windows on one path alone, scalar or AVX-512 (avx512; the caller
/// checks kernels/cpu.hpp), for the tests that compare the paths bit for bit: a CPU takes the widest it has.
enum class MaxPoolInput { Plain, Relu, BatchNormRelu };
void maxpool2d_forward_on(bool avx512, MaxPoolInput input, std::span<float> y, std::span<std::uint32_t> argmax,
                          std::span<const float> x, std::span<const ChannelAffine> affine, const Pool2dShape& s,
                          std::size_t p0, std::size_t p1);

/// Its gradient: dx zeroed, then dx[argmax] += (y > 0 ? dy : 0). Bit for bit maxpool2d_backward then relu_backward:
/// a window's y is the ReLU output of its argmax element, the element whose gradient ReLU masks.
void relu_maxpool2d_backward(std::span<float> dx, std::span<const float> dy, std::span<const float> y,
                             std::span<const std::uint32_t> argmax, const Pool2dShape& s, std::size_t p0,
                             std::size_t p1);

/// y = the mean of each window.
void avgpool2d_forward(std::span<float> y, std::span<const float> x, const Pool2dShape& s, std::size_t p0,
                       std::size_t p1);
/// dx of planes [p0, p1): zeroed, then each window's dy / K² added to its K² inputs.
void avgpool2d_backward(std::span<float> dx, std::span<const float> dy, const Pool2dShape& s, std::size_t p0,
                        std::size_t p1);

}  // namespace mnist::kernels
