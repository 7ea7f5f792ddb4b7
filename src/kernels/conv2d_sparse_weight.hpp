// The weight gradient of one image of a stride-1 convolution from the nonzero elements of its output gradient
// alone. A convolution followed by ReLU and a 2x2 max pooling (lenet5's two, cnn's first) gets an output gradient
// with at most one nonzero in every 2x2 window, 25% at most and fewer where the ReLU was off: the dense product
// spends three quarters of its multiply-adds on zeros.
//
// Every element of [dw | db] is the same FMA chain as the dense product's (kernels/tile_product.hpp), over the
// pixels in order, less the links whose dy is zero. A link fma(0, x, c) for a finite x gives c back exactly, except
// that it turns c = −0 into +0 (for x > 0); a chain started at +0 reaches −0 only through a product that underflows
// to −0. So the bits are the same as the dense path's for finite inputs, a gradient that does not start at −0 and
// no product underflowing to zero: with one, at most the sign of a zero element differs. (An infinite or NaN input,
// where 0·x is NaN, turns the dense gradient NaN; the sparse one is NaN only where a nonzero dy met it.)
#pragma once
#include <cstddef>

#include "kernels/conv2d.hpp"

namespace mnist::kernels {

inline constexpr std::size_t kSparseWeightSlack = 8;

/// acc [Oc, R] (R = C·K·K + 1: rows o of [dw | db], the bias in column C·K·K, taken when bias) += the weight
/// gradient of one image: dy_n [Oc, P] (P = OH·OW) against the image's zero-padded input planes pad [C, H + 2p,
/// W + 2p], readable kSparseWeightSlack floats past their end, reading only dy_n's nonzero elements. Stride 1 only.
/// Returns false, having done nothing, when dy_n is too dense for this to pay, the kernel is wider than 8 or the CPU
/// lacks AVX-512VL: the caller then runs the dense product, which gives the same bits.
bool conv2d_weight_image_sparse(float* acc, std::size_t R, const float* dy_n, std::size_t Oc, const float* pad,
                                const Conv2dShape& s, bool bias);

/// dw rows o0 .. o1 − 1 [O, C·K·K] and db [O] (empty: no bias gradient) += the weight gradient of the batch's N
/// images, dy [N, O, P] against x [N, C, H, W], from dy's nonzero elements, for a layer whose channels are many
/// (cnn.conv2: 32 -> 64): per image, the padded input channels-last ([H + 2p, W + 2p, C]: a tap's channels side by
/// side), and per output channel, each tap row's K·C floats as vectors of chains over that channel's nonzero pixels.
/// Stride 1, 16 to 64 input channels. Decided on image 0 (over a third of it nonzero, or an unsuitable shape or CPU:
/// returns false, having done nothing; the caller runs the dense product, which gives the same bits).
bool conv2d_weight_sparse_wide(float* dw, float* db, const float* dy, const float* x, const Conv2dShape& s,
                               std::size_t N, std::size_t o0, std::size_t o1);

}  // namespace mnist::kernels
