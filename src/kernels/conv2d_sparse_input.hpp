// The input gradient's columns of one image of a convolution from the nonzero elements of its output gradient
// alone: where a ReLU and a 2x2 max pooling follow the layer (lenet5.conv2, cnn.conv2), a quarter of dy at most is
// nonzero, and the dense product dcols = Wᵀ · dy_n spends three quarters of its multiply-adds on zeros.
//
// Every element of the columns' gradient Wᵀ · dy_n is the dense product's FMA chain over the output channels o in
// order, from +0, less the links whose dy is zero: fma(w, 0, c) for a finite w returns c exactly, but for the sign
// of a zero c (a −0 reached through an underflowing product); and every dx element adds its terms in col2im's order
// (ky, then kx) from +0, where the sign of a zero term makes no difference. So dx has the same bits as the dense
// product's and col2im's for a finite weight.
#pragma once
#include <cstddef>
#include <vector>

#include "kernels/conv2d.hpp"

namespace mnist::kernels {

/// dx_n [C, H, W] = col2im(Wᵀ · dy_n), overwritten, W [O, C·K·K], dy_n [O, P] (P = OH·OW), from dy_n's nonzero
/// elements: per output pixel, its column of Wᵀ · dy_n as registers over the patch rows, summed over the pixel's
/// nonzero channels, with the patch rows ordered by tap (ky, kx) then channel; then, per input pixel, its taps
/// added in col2im's order for all channels at once, and transposed into place 16 x 16. w_by_tap is W reordered
/// so, [O, K, K, C]: pass it empty on each new W (it is built on the first sparse image and reused). Returns false,
/// having done nothing, when dy_n is too dense for this to pay, C > 64 or the CPU lacks AVX-512: the caller then
/// runs the dense product and col2im, which give the same bits.
bool conv2d_input_gradient_sparse(float* dx_n, std::vector<float>& w_by_tap, const float* w, const float* dy_n,
                                  const Conv2dShape& s);

}  // namespace mnist::kernels
