#include "kernels/conv2d.hpp"

#include <algorithm>
#include <vector>

#include "kernels/tile_product.hpp"

namespace mnist::kernels {

namespace {

// The output columns ox whose input column ox·stride + kx − padding lies inside [0, W): [lo, hi).
struct Span {
  std::size_t lo, hi;
};
Span inside(std::size_t kx, const Conv2dShape& s) {
  const std::size_t OW = s.OW();
  // ox·stride + kx >= padding  <=>  ox >= ceil((padding − kx) / stride)
  const std::size_t lo = kx >= s.padding ? 0 : (s.padding - kx + s.stride - 1) / s.stride;
  // ox·stride + kx − padding <= W − 1  <=>  ox <= (W − 1 + padding − kx) / stride
  const std::size_t hi = s.W + s.padding <= kx ? 0 : std::min(OW, (s.W - 1 + s.padding - kx) / s.stride + 1);
  return {std::min(lo, hi), hi};
}

// Scratch a chunk keeps between calls (grown once, never shrunk): the transposed gradient, the weight gradient and
// one image's share of it, of conv2d_backward_weight.
std::vector<float>& scratch(int which) {
  thread_local std::vector<float> buffers[3];
  return buffers[which];
}

}  // namespace

void im2col(std::span<float> cols_, std::span<const float> x_, const Conv2dShape& s) {
  const std::size_t OH = s.OH(), OW = s.OW(), P = OH * OW;
  float* row = cols_.data();
  for (std::size_t c = 0; c < s.C; ++c)
    for (std::size_t ky = 0; ky < s.K; ++ky)
      for (std::size_t kx = 0; kx < s.K; ++kx, row += P) {
        const Span in = inside(kx, s);
        for (std::size_t oy = 0; oy < OH; ++oy) {
          float* out = row + oy * OW;
          const std::size_t iy = oy * s.stride + ky;  // + padding
          if (iy < s.padding || iy - s.padding >= s.H) {
            std::fill(out, out + OW, 0.0f);
            continue;
          }
          const float* x = x_.data() + (c * s.H + iy - s.padding) * s.W;
          std::fill(out, out + in.lo, 0.0f);
          if (s.stride == 1 && in.hi > in.lo) {
            const float* from = x + (in.lo + kx - s.padding);
            std::copy(from, from + (in.hi - in.lo), out + in.lo);
          } else {
            for (std::size_t ox = in.lo; ox < in.hi; ++ox) out[ox] = x[ox * s.stride + kx - s.padding];
          }
          std::fill(out + in.hi, out + OW, 0.0f);
        }
      }
}

void col2im_add(std::span<float> dx_, std::span<const float> dcols, const Conv2dShape& s) {
  const std::size_t OH = s.OH(), OW = s.OW(), P = OH * OW;
  const float* row = dcols.data();
  // Rows in order (c, ky, kx): every dx element receives its terms in that order, whoever calls.
  for (std::size_t c = 0; c < s.C; ++c)
    for (std::size_t ky = 0; ky < s.K; ++ky)
      for (std::size_t kx = 0; kx < s.K; ++kx, row += P) {
        const Span in = inside(kx, s);
        for (std::size_t oy = 0; oy < OH; ++oy) {
          const std::size_t iy = oy * s.stride + ky;
          if (iy < s.padding || iy - s.padding >= s.H) continue;
          float* dx = dx_.data() + (c * s.H + iy - s.padding) * s.W;
          const float* d = row + oy * OW;
          for (std::size_t ox = in.lo; ox < in.hi; ++ox) dx[ox * s.stride + kx - s.padding] += d[ox];
        }
      }
}

void conv2d_forward(std::span<float> y, std::span<float> cols, std::span<const float> x, std::span<const float> w,
                    std::span<const float> b, const Conv2dShape& s, std::size_t n0, std::size_t n1) {
  const std::size_t KK = s.patch(), P = s.pixels();
  for (std::size_t n = n0; n < n1; ++n) {
    const std::span<float> cols_n = cols.subspan(n * KK * P, KK * P);  // [C·K·K, OH·OW]
    im2col(cols_n, x.subspan(n * s.C * s.H * s.W, s.C * s.H * s.W), s);
    // y_n [O, P] = W [O, KK] · cols_n [KK, P], then + b
    tile_product({.c = y.data() + n * s.O * P, .ldc = P, .a = w.data(), .a_row = KK, .a_k = 1, .b = cols_n.data(),
                  .ldb = P, .M = s.O, .J = P, .K = KK, .init = TileProduct::Init::Zero});
    // The bias last, as PyTorch's CPU convolution (oneDNN) adds it: with the bias first in each chain the rounding
    // differs on every output, and on the cnn preset's SGD-momentum trajectory (pytorch-cnn/cnn.safetensors) that
    // drifted 0.028 from PyTorch's step losses within 32 steps; summed first, the largest difference is 2e-5,
    // PyTorch's own float32-vs-float64 distance.
    if (!b.empty())
      for (std::size_t o = 0; o < s.O; ++o) {
        float* row = y.data() + (n * s.O + o) * P;
        for (std::size_t q = 0; q < P; ++q) row[q] += b[o];
      }
  }
}

void conv2d_backward_input(std::span<float> dx, std::span<float> dcols, std::span<const float> dy,
                           std::span<const float> w, const Conv2dShape& s, std::size_t n0, std::size_t n1) {
  const std::size_t KK = s.patch(), P = s.pixels(), image = s.C * s.H * s.W;
  for (std::size_t n = n0; n < n1; ++n) {
    // dcols [KK, P] = Wᵀ [KK, O] · dy_n [O, P]
    tile_product({.c = dcols.data(), .ldc = P, .a = w.data(), .a_row = 1, .a_k = KK, .b = dy.data() + n * s.O * P,
                  .ldb = P, .M = KK, .J = P, .K = s.O});
    const std::span<float> dx_n = dx.subspan(n * image, image);
    std::fill(dx_n.begin(), dx_n.end(), 0.0f);
    col2im_add(dx_n, dcols, s);
  }
}

void conv2d_backward_weight(std::span<float> dw, std::span<float> db, std::span<const float> dy,
                            std::span<const float> cols, const Conv2dShape& s, std::size_t N, std::size_t o0,
                            std::size_t o1) {
  if (o1 <= o0) return;
  const std::size_t KK = s.patch(), P = s.pixels(), Oc = o1 - o0;
  // Vectorised across the output channels: dwT [KK + 1, Oc] (the last row the bias gradient) holds the chains,
  // dyT [P, Oc] each image's gradient transposed, so that the product runs with unit stride.
  std::vector<float>& dwT = scratch(0);
  std::vector<float>& dyT = scratch(1);
  std::vector<float>& image = scratch(2);
  dwT.resize((KK + 1) * Oc);
  dyT.resize(P * Oc);
  image.resize((KK + 1) * Oc);
  for (std::size_t o = o0; o < o1; ++o) {
    for (std::size_t r = 0; r < KK; ++r) dwT[r * Oc + o - o0] = dw[o * KK + r];
    dwT[KK * Oc + o - o0] = db.empty() ? 0.0f : db[o];
  }
  static const float one = 1.0f;
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t o = o0; o < o1; ++o) {
      const float* g = dy.data() + (n * s.O + o) * P;
      for (std::size_t p = 0; p < P; ++p) dyT[p * Oc + o - o0] = g[p];
    }
    // The image's share, image [KK, Oc] = cols_n [KK, P] · dyT [P, Oc], one FMA chain over p per element, then
    // added to dwT: a chain per image and a sum over images (not one chain over all N·P terms, whose rounding
    // error grows with the batch: 1e-4 absolute on cnn's conv1 at N = 8, enough to move a momentum run off
    // PyTorch's trajectory).
    tile_product({.c = image.data(), .ldc = Oc, .a = cols.data() + n * KK * P, .a_row = P, .a_k = 1, .b = dyT.data(),
                  .ldb = Oc, .M = KK, .J = Oc, .K = P, .init = TileProduct::Init::Zero});
    // The bias row: Σ_p 1 · dyT[p] (fma(1, g, s) is exactly s + g).
    tile_product({.c = image.data() + KK * Oc, .ldc = Oc, .a = &one, .a_row = 0, .a_k = 0, .b = dyT.data(),
                  .ldb = Oc, .M = 1, .J = Oc, .K = P, .init = TileProduct::Init::Zero});
    for (std::size_t i = 0; i < (KK + 1) * Oc; ++i) dwT[i] += image[i];
  }
  for (std::size_t o = o0; o < o1; ++o) {
    for (std::size_t r = 0; r < KK; ++r) dw[o * KK + r] = dwT[r * Oc + o - o0];
    if (!db.empty()) db[o] = dwT[KK * Oc + o - o0];
  }
}

}  // namespace mnist::kernels
