// 2-D convolution (torch.nn.Conv2d, groups = 1, dilation = 1, zero padding), NCHW, float32, as im2col + GEMM.
//
// The layer (src/nn/conv2d_layer.*) cuts a batch into fixed image ranges and output-channel ranges chosen from the
// shapes alone, so a result never depends on the thread count: every output element is one fixed sequence of
// float operations whichever thread runs its chunk.
#pragma once
#include <cstddef>
#include <span>

namespace mnist::kernels {

/// Shapes of one convolution: input [N, C, H, W], weight [O, C, K, K], output [N, O, OH, OW].
struct Conv2dShape {
  std::size_t C = 1, H = 28, W = 28;       ///< input channels, height, width
  std::size_t O = 1, K = 3;                ///< output channels, square kernel size
  std::size_t stride = 1, padding = 0;     ///< the same in both directions
  std::size_t OH() const { return (H + 2 * padding - K) / stride + 1; }  ///< output height (needs H + 2p >= K)
  std::size_t OW() const { return (W + 2 * padding - K) / stride + 1; }  ///< output width
  std::size_t patch() const { return C * K * K; }                         ///< rows of one image's columns
  std::size_t pixels() const { return OH() * OW(); }                      ///< columns of one image's columns
};

/// cols [C·K·K, OH·OW] of one image x [C, H, W]: row (c, ky, kx), column (oy, ox) holds
/// x[c, oy·stride + ky − padding, ox·stride + kx − padding], 0 outside the image.
void im2col(std::span<float> cols, std::span<const float> x, const Conv2dShape& s);

/// dx [C, H, W] += the columns' gradient dcols [C·K·K, OH·OW] scattered back (the transpose of im2col).
void col2im_add(std::span<float> dx, std::span<const float> dcols, const Conv2dShape& s);

/// Forward of images [n0, n1): y [N, O, OH, OW] rows n0..n1-1 = W [O, C·K·K] · cols_n + b [O] (per channel).
/// cols [N, C·K·K, OH·OW] receives each image's columns (kept for the weight gradient).
void conv2d_forward(std::span<float> y, std::span<float> cols, std::span<const float> x, std::span<const float> w,
                    std::span<const float> b, const Conv2dShape& s, std::size_t n0, std::size_t n1);

/// Input gradient of images [n0, n1): dx [N, C, H, W] rows n0..n1-1 = col2im(Wᵀ · dy_n), overwritten.
/// dcols is scratch of at least C·K·K·OH·OW floats, private to the caller's chunk.
void conv2d_backward_input(std::span<float> dx, std::span<float> dcols, std::span<const float> dy,
                           std::span<const float> w, const Conv2dShape& s, std::size_t n0, std::size_t n1);

/// Weight and bias gradients of output channels [o0, o1), accumulated (+=) over the batch's N images in order
/// n = 0 .. N−1: dw[o] += Σ_n dy_n[o] · cols_nᵀ, db[o] += Σ_n Σ_pixels dy_n[o]. dw is [O, C·K·K], db [O] (may be
/// empty: no bias gradient). Only patch rows [r0, r1) of dw are computed, row C·K·K standing for db (by default
/// all): every element is the same chain whoever computes it, so ranges of rows or channels give the same bits.
inline constexpr std::size_t kAllRows = static_cast<std::size_t>(-1);
void conv2d_backward_weight(std::span<float> dw, std::span<float> db, std::span<const float> dy,
                            std::span<const float> cols, const Conv2dShape& s, std::size_t N, std::size_t o0,
                            std::size_t o1, std::size_t r0 = 0, std::size_t r1 = kAllRows);

/// The same two without keeping the batch's columns (K² times the input: 29 MB for a 32->64 3x3 layer on 14x14 at
/// batch 128, written by the forward and read back by the weight gradient, beyond the caches): the forward builds
/// each image's columns in a buffer private to the calling thread (stride 1: reads the padded input through row
/// offsets instead), the weight gradient rebuilds them from x, which the layer keeps anyway (stride 1: reads them in
/// place from the padded input). The same values and bits as conv2d_forward and conv2d_backward_weight over
/// im2col(x) (docs/conv-kernels.md has the measurements).
void conv2d_forward_transient(std::span<float> y, std::span<const float> x, std::span<const float> w,
                              std::span<const float> b, const Conv2dShape& s, std::size_t n0, std::size_t n1);
void conv2d_backward_weight_from_input(std::span<float> dw, std::span<float> db, std::span<const float> dy,
                                       std::span<const float> x, const Conv2dShape& s, std::size_t N,
                                       std::size_t o0, std::size_t o1, std::size_t r0 = 0,
                                       std::size_t r1 = kAllRows);

/// Whether a layer of this shape is faster keeping its columns (conv2d_forward + conv2d_backward_weight) than
/// without (the two above), as measured at the presets' shapes. A stride-1 layer never keeps them: its forward and its
/// weight gradient both read the zero-padded input plane in place (an implicit im2col: no columns written at all).
/// Other strides rebuild the columns with im2col, which pays only from 8 input channels on.
inline bool conv2d_keeps_columns(const Conv2dShape& s) { return s.stride != 1 && s.C < 8; }

}  // namespace mnist::kernels
