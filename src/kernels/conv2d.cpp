#include "kernels/conv2d.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/conv2d_sparse_input.hpp"
#include "kernels/conv2d_sparse_weight.hpp"
#include "kernels/cpu.hpp"
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

// Lanes [lo, hi) of a 16-lane vector whose first lane is column `first`.
__attribute__((target("avx512f"))) inline __mmask16 lanes(std::size_t first, std::size_t lo, std::size_t hi) {
  const std::size_t a = std::max(lo, first) - first, b = std::min(hi, first + 16);
  if (b <= first + a) return 0;
  const std::size_t n = b - first;
  return static_cast<__mmask16>(((1u << n) - 1u) & ~((1u << a) - 1u));
}

// x + offset for an offset that may point before x: only lanes inside the row are read through it (masked), so
// the address is formed as an integer, never as an out-of-range pointer.
inline const float* shifted(const float* x, std::ptrdiff_t offset) {
  return reinterpret_cast<const float*>(reinterpret_cast<std::uintptr_t>(x) + static_cast<std::uintptr_t>(offset * 4));
}

// Stride 1 with OW == W (a "same" convolution: K = 2·padding + 1, every preset's layer but lenet5's conv2): row
// (c, ky, kx) of the columns is the input plane read flat from offset (ky − p)·W + (kx − p), except the output rows
// that fall above or below the image and, in each row, the kx − p columns that wrap to the neighbouring row: one
// contiguous copy per patch row and a few zeros, instead of a copy per output row (whose calls cost more than the
// 14 floats they move).
void im2col_same(float* row, const float* x0, const Conv2dShape& s) {
  const std::size_t H = s.H, W = s.W, P = H * W, p = s.padding;
  for (std::size_t c = 0; c < s.C; ++c)
    for (std::size_t ky = 0; ky < s.K; ++ky)
      for (std::size_t kx = 0; kx < s.K; ++kx, row += P) {
        // Output rows oy with 0 <= oy + ky − p < H: [y0, y1).
        const std::size_t y0 = ky >= p ? 0 : p - ky, y1 = std::min(H, H + p - ky);
        std::fill(row, row + y0 * W, 0.0f);
        std::fill(row + y1 * W, row + P, 0.0f);
        if (y1 <= y0) continue;
        const float* x = x0 + c * P;
        // Flat: row[q] = x[q + (ky − p)·W + kx − p] for q in [y0·W, y1·W), clipped to the plane at both ends.
        const std::ptrdiff_t shift = (static_cast<std::ptrdiff_t>(ky) - static_cast<std::ptrdiff_t>(p)) *
                                         static_cast<std::ptrdiff_t>(W) +
                                     static_cast<std::ptrdiff_t>(kx) - static_cast<std::ptrdiff_t>(p);
        const std::ptrdiff_t q0 = std::max<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(y0 * W), -shift);
        const std::ptrdiff_t q1 =
            std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(y1 * W), static_cast<std::ptrdiff_t>(P) - shift);
        std::fill(row + y0 * W, row + q0, 0.0f);
        if (q1 > q0) std::memcpy(row + q0, x + (q0 + shift), static_cast<std::size_t>(q1 - q0) * sizeof(float));
        std::fill(row + std::max(q0, q1), row + y1 * W, 0.0f);
        // The columns that wrapped: ox + kx − p < 0 (left) or >= W (right).
        const Span in = inside(kx, s);
        for (std::size_t oy = y0; oy < y1; ++oy) {
          float* r = row + oy * W;
          for (std::size_t ox = 0; ox < in.lo; ++ox) r[ox] = 0.0f;
          for (std::size_t ox = in.hi; ox < W; ++ox) r[ox] = 0.0f;
        }
      }
}

// dx += the columns' gradient, stride 1, K <= 16: per input row and 16-column block, every (ky, kx) term added in
// registers and the row stored once. An element receives its terms in the scalar loop's order (ky, then kx), the
// rows and masks of each kx fixed per block. (Storing after each kx and loading the row again shifted by one float
// defeats store forwarding: measured slower than the scalar loop; storing once per (ky, output row), with the masks
// recomputed per term, took 8.7% of lenet5's training.)
__attribute__((target("avx512f"))) void col2im_stride1_avx512(float* dx0, const float* dcols, const Conv2dShape& s) {
  const std::size_t OH = s.OH(), OW = s.OW(), P = OH * OW, W = s.W, K = s.K;
  const auto pad = static_cast<std::ptrdiff_t>(s.padding);
  __mmask16 valid[16];
  std::ptrdiff_t shift[16];  // ox − ix' for dx column ix' and term kx
  for (std::size_t ix = 0; ix < W; ix += 16) {
    const __mmask16 row = lanes(ix, 0, W);
    for (std::size_t kx = 0; kx < K; ++kx) {
      // dx column ix' takes d[ox] with ox = ix' − kx + padding, for ox in [0, OW) (and ix' < W).
      shift[kx] = pad - static_cast<std::ptrdiff_t>(kx);
      const std::ptrdiff_t lo = -shift[kx], hi = static_cast<std::ptrdiff_t>(OW) - shift[kx];  // ix' range
      valid[kx] = row & lanes(ix, static_cast<std::size_t>(std::max<std::ptrdiff_t>(lo, 0)),
                              static_cast<std::size_t>(std::max<std::ptrdiff_t>(hi, 0)));
    }
    for (std::size_t c = 0; c < s.C; ++c)
      for (std::size_t iy = 0; iy < s.H; ++iy) {
        float* dx = dx0 + (c * s.H + iy) * W + ix;
        __m512 sum = _mm512_maskz_loadu_ps(row, dx);
        for (std::size_t ky = 0; ky < K; ++ky) {
          const std::size_t oy = iy + s.padding - ky;  // wraps above OH when iy + padding < ky
          if (iy + s.padding < ky || oy >= OH) continue;
          // Offsets, not pointers: the row's start plus ix and the shift may lie outside dcols (masked lanes only).
          auto at = static_cast<std::ptrdiff_t>((c * K + ky) * K * P + oy * OW + ix);
          for (std::size_t kx = 0; kx < K; ++kx, at += static_cast<std::ptrdiff_t>(P))
            sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(valid[kx], shifted(dcols, at + shift[kx])));
        }
        _mm512_mask_storeu_ps(dx, row, sum);
      }
  }
}

// Scratch a chunk keeps between calls (grown once, never shrunk): the chains and the transposed operand of the
// weight gradient, one image's columns (or the implicit forward's output grid) for the functions that keep none,
// and one image's zero-padded input plane.
std::vector<float>& scratch(int which) {
  thread_local std::vector<float> buffers[4];
  return buffers[which];
}

}  // namespace

void im2col(std::span<float> cols_, std::span<const float> x_, const Conv2dShape& s) {
  if (s.stride == 1 && s.OW() == s.W) return im2col_same(cols_.data(), x_.data(), s);
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
  if (s.stride == 1 && s.K <= 16 && kHaveAvx512) return col2im_stride1_avx512(dx_.data(), dcols.data(), s);
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

namespace {
// Image n: its columns into cols_n [C·K·K, OH·OW], then y_n [O, P] = W [O, KK] · cols_n [KK, P], then + b.
// The bias last, as PyTorch's CPU convolution (oneDNN) adds it: with the bias first in each chain the rounding
// differs on every output, and on the cnn preset's SGD-momentum trajectory (pytorch-cnn/cnn.safetensors) that drifted
// 0.028 from PyTorch's step losses within 32 steps; added last, the largest difference is 2e-5, PyTorch's own
// float32-vs-float64 distance.
void forward_image(std::span<float> y, std::span<float> cols_n, std::span<const float> x, std::span<const float> w,
                   std::span<const float> b, const Conv2dShape& s, std::size_t n) {
  const std::size_t KK = s.patch(), P = s.pixels();
  im2col(cols_n, x.subspan(n * s.C * s.H * s.W, s.C * s.H * s.W), s);
  float* y_n = y.data() + n * s.O * P;
  tile_product({.c = y_n, .ldc = P, .a = w.data(), .a_row = KK, .a_k = 1, .b = cols_n.data(), .ldb = P, .M = s.O,
                .J = P, .K = KK, .init = TileProduct::Init::Zero});
  if (!b.empty())
    for (std::size_t o = 0; o < s.O; ++o)
      for (std::size_t q = 0; q < P; ++q) y_n[o * P + q] += b[o];
}
// Stride 1 without columns (an implicit im2col): the input plane, zero-padded to Hp x S (S = W + 2·padding) when
// padding > 0, is B itself: row (c, ky, kx) of the columns is the plane read from c·Hp·S + ky·S + kx, so output
// (oy, ox) lands at oy·S + ox of a grid S wide (the K − 1 extra columns per row are computed and dropped). The grid's
// rows are then copied out with the bias added. Every element's chain is forward_image's (k in (c, ky, kx) order,
// from zero, the bias added after), so the bits are the same; no columns are written or read back.
// Image `image` [C, H, W] zero-padded to [C, H + 2p, W + 2p] in pad, as the implicit im2col reads it, and `slack`
// zeros after it; the image itself when there is neither padding nor slack.
const float* padded_plane(std::vector<float>& pad, const float* image, const Conv2dShape& s, std::size_t slack = 0) {
  const std::size_t p = s.padding, S = s.W + 2 * p, plane = (s.H + 2 * p) * S;
  if (p == 0 && slack == 0) return image;
  pad.assign(s.C * plane + slack, 0.0f);
  for (std::size_t c = 0; c < s.C; ++c)
    for (std::size_t iy = 0; iy < s.H; ++iy)
      std::copy_n(image + (c * s.H + iy) * s.W, s.W, pad.data() + c * plane + (iy + p) * S + p);
  return pad.data();
}

// The offsets that read the columns of a stride-1 layer from its padded plane [C, Hp, S] (Hp = H + 2p, S = W + 2p):
// row (c, ky, kx) of the columns starts at its window's corner c·Hp·S + ky·S + kx, and column (oy, ox) lies oy·S + ox
// further. One table of each per thread, refilled on each call (a few hundred entries).
const std::size_t* window_corners(const Conv2dShape& s) {
  thread_local std::vector<std::size_t> rows;
  const std::size_t S = s.W + 2 * s.padding, plane = (s.H + 2 * s.padding) * S;
  rows.resize(s.patch());
  for (std::size_t c = 0, k = 0; c < s.C; ++c)
    for (std::size_t ky = 0; ky < s.K; ++ky)
      for (std::size_t kx = 0; kx < s.K; ++kx) rows[k++] = c * plane + ky * S + kx;
  return rows.data();
}
const std::size_t* pixel_offsets(const Conv2dShape& s) {
  thread_local std::vector<std::size_t> cols;
  const std::size_t S = s.W + 2 * s.padding, OW = s.OW();
  cols.resize(s.pixels());
  for (std::size_t q = 0; q < cols.size(); ++q) cols[q] = (q / OW) * S + q % OW;
  return cols.data();
}

void forward_image_implicit(std::span<float> y, std::vector<float>& own, std::span<const float> x,
                            std::span<const float> w, std::span<const float> b, const Conv2dShape& s, std::size_t n) {
  const std::size_t p = s.padding, S = s.W + 2 * p;
  const std::size_t OH = s.OH(), OW = s.OW(), P = OH * OW, J = (OH - 1) * S + OW, KK = s.patch();
  const std::size_t* rows = window_corners(s);
  own.resize(s.O * J);
  float* grid = own.data();  // [O, J]
  const float* image = padded_plane(scratch(3), x.data() + n * s.C * s.H * s.W, s);  // [C, Hp, S]
  tile_product({.c = grid, .ldc = J, .a = w.data(), .a_row = KK, .a_k = 1, .b = image, .ldb = 0, .b_rows = rows,
                .M = s.O, .J = J, .K = KK, .init = TileProduct::Init::Zero});
  float* y_n = y.data() + n * s.O * P;
  for (std::size_t o = 0; o < s.O; ++o) {
    const float bias = b.empty() ? 0.0f : b[o];
    for (std::size_t oy = 0; oy < OH; ++oy) {
      const float* from = grid + o * J + oy * S;
      float* to = y_n + o * P + oy * OW;
      if (b.empty())
        std::copy_n(from, OW, to);
      else
        for (std::size_t ox = 0; ox < OW; ++ox) to[ox] = from[ox] + bias;
    }
  }
}
}  // namespace

void conv2d_forward(std::span<float> y, std::span<float> cols, std::span<const float> x, std::span<const float> w,
                    std::span<const float> b, const Conv2dShape& s, std::size_t n0, std::size_t n1) {
  const std::size_t size = s.patch() * s.pixels();
  for (std::size_t n = n0; n < n1; ++n) forward_image(y, cols.subspan(n * size, size), x, w, b, s, n);
}

void conv2d_backward_input(std::span<float> dx, std::span<float> dcols, std::span<const float> dy,
                           std::span<const float> w, const Conv2dShape& s, std::size_t n0, std::size_t n1) {
  const std::size_t KK = s.patch(), P = s.pixels(), image = s.C * s.H * s.W;
  thread_local std::vector<float> w_by_tap;  // W by tap for the sparse path, built on its first image
  w_by_tap.clear();
  for (std::size_t n = n0; n < n1; ++n) {
    // A sparse dy_n (after a ReLU and a max pooling) skips its zeros: the same chains, the same bits.
    if (conv2d_input_gradient_sparse(dx.data() + n * image, w_by_tap, w.data(), dy.data() + n * s.O * P, s)) continue;
    // dcols [KK, P] = Wᵀ [KK, O] · dy_n [O, P]
    tile_product({.c = dcols.data(), .ldc = P, .a = w.data(), .a_row = 1, .a_k = KK, .b = dy.data() + n * s.O * P,
                  .ldb = P, .M = KK, .J = P, .K = s.O});
    const std::span<float> dx_n = dx.subspan(n * image, image);
    std::fill(dx_n.begin(), dx_n.end(), 0.0f);
    col2im_add(dx_n, dcols, s);
  }
}

// Every dw[o, r] (db[o]) is one FMA chain, from its value on entry, over images n = 0 .. N−1 and pixels p in order:
// fma(cols_n[r, p], dy_n[o, p], ·) (fma(1, dy_n[o, p], ·) for db). Two ways to run these chains with unit-stride
// vectors, chosen by which operand is cheaper to transpose per image (the bits are the same either way: a product
// a·b is b·a, and an element's chain never depends on its neighbours or on the range [o0, o1)):
//  - across output channels (many patch rows, few channels: conv2's 288 x 64): dy_n transposed to [P, Oc], the
//    chains held in dwT [KK + 1, Oc] (the last row the bias), A = cols_n broadcast;
//  - across patch rows (few rows, many channels: a 1-channel conv1's 9 x 32): cols_n transposed to [P, KK + 1] with
//    a column of ones for the bias, the chains in dwx [Oc, KK + 1], A = dy_n broadcast.
namespace {
// Image n's columns [KK, P] as the weight gradient reads them: cols[r, q] = base[r·P + q] (kept by the forward or
// rebuilt), or base[rows[r] + cols[q]] (read in place from the padded input plane: an implicit im2col).
struct ColumnsView {
  const float* base;
  const std::size_t* rows = nullptr;
  const std::size_t* cols = nullptr;
};

// The weight gradient with image n's columns from columns_of(n) (kept by the forward, rebuilt, or read from x).
// columns_of(n): image n's ColumnsView. transposed_of(n, t, R, r0, w1): rows [r0, w1) of its transposed
// columns into t [P, R] (t[p·R + r] = cols[r, p]), or null: transpose columns_of(n). With a cheap transposed_of (built
// from the input, not from the columns) a layer of at most 16 output channels takes the patch-rows path: its channels
// would fill at most one vector's lanes, 6 of 16 for lenet5.conv1, and even lenet5.conv2's 16 channels with their 150
// broadcast rows ran slower that way (0.65 ms a batch, against 0.575 ms across patch rows with the transposed runs).
// sparse_of(n, acc, R, dy_n, Oc, bias) (with a cheap transposed_of only): adds image n's gradient into acc from dy_n's
// nonzeros alone and returns true, or returns false when dy_n is too dense (kernels/conv2d_sparse_weight.hpp);
// sparse_wide(dw, db or null, o0, o1) likewise for the whole batch, on the path across output channels.
template <class Columns, class Transposed, class Sparse, class SparseWide>
void backward_weight(std::span<float> dw, std::span<float> db, std::span<const float> dy, Columns columns_of,
                     Transposed transposed_of, Sparse sparse_of, SparseWide sparse_wide, const Conv2dShape& s,
                     std::size_t N, std::size_t o0, std::size_t o1, std::size_t r0, std::size_t r1) {
  const std::size_t KK = s.patch(), P = s.pixels(), Oc = o1 - o0, R = KK + 1;
  r1 = std::min(r1, db.empty() ? KK : R);  // rows [r0, r1) of [dw | db]ᵀ: patch rows, then the bias
  if (o1 <= o0 || r1 <= r0) return;
  const std::size_t w1 = std::min(r1, KK);  // the weight rows among them: [r0, w1)
  const bool bias = r1 > KK;
  std::vector<float>& acc = scratch(0);
  std::vector<float>& t = scratch(1);
  static const float one = 1.0f;
  constexpr bool cheap_transpose = !std::is_same_v<Transposed, std::nullptr_t>;
  if (R < Oc || (cheap_transpose && Oc <= 16)) {
    // Across patch rows: acc [Oc, R] = [dw | db] rows o0 .. o1 − 1; t [P, R] = [cols_nᵀ | 1].
    acc.resize(Oc * R);
    t.resize(P * R);
    for (std::size_t o = 0; o < Oc; ++o) {
      for (std::size_t r = r0; r < w1; ++r) acc[o * R + r] = dw[(o0 + o) * KK + r];
      if (bias) acc[o * R + KK] = db[o0 + o];
    }
    for (std::size_t p = 0; p < P; ++p) t[p * R + KK] = 1.0f;
    for (std::size_t n = 0; n < N; ++n) {
      if constexpr (cheap_transpose) {
        // A sparse dy_n (after a ReLU and a max pooling) skips its zeros: the same chains, the same bits.
        if (r0 == 0 && w1 == KK && sparse_of(n, acc.data(), R, dy.data() + (n * s.O + o0) * P, Oc, bias)) continue;
        transposed_of(n, t.data(), R, r0, w1);
      } else {
        const ColumnsView c = columns_of(n);
        for (std::size_t p = 0; p < P; ++p)
          for (std::size_t r = r0; r < w1; ++r)
            t[p * R + r] = c.rows ? c.base[c.rows[r] + c.cols[p]] : c.base[r * P + p];
      }
      // acc [Oc, r0 .. r1) += dy_n [Oc, P] · t [P, r0 .. r1)
      tile_product({.c = acc.data() + r0, .ldc = R, .a = dy.data() + (n * s.O + o0) * P, .a_row = P, .a_k = 1,
                    .b = t.data() + r0, .ldb = R, .M = Oc, .J = r1 - r0, .K = P,
                    .init = TileProduct::Init::Accumulate});
    }
    for (std::size_t o = 0; o < Oc; ++o) {
      for (std::size_t r = r0; r < w1; ++r) dw[(o0 + o) * KK + r] = acc[o * R + r];
      if (bias) db[o0 + o] = acc[o * R + KK];
    }
    return;
  }
  // A sparse dy (after a ReLU and a max pooling) skips its zeros: the same chains, the same bits.
  if constexpr (cheap_transpose)
    if (r0 == 0 && w1 == KK && sparse_wide(dw.data(), bias ? db.data() : nullptr, o0, o1)) return;
  // Across output channels: acc [R, Oc] = [dw | db] transposed; t [P, Oc] = dy_n's rows o0 .. o1 − 1 transposed.
  acc.resize(R * Oc);
  t.resize(P * Oc);
  for (std::size_t o = o0; o < o1; ++o) {
    for (std::size_t r = r0; r < w1; ++r) acc[r * Oc + o - o0] = dw[o * KK + r];
    if (bias) acc[KK * Oc + o - o0] = db[o];
  }
  for (std::size_t n = 0; n < N; ++n) {
    // Transposed in blocks of 16 pixels, so that reads and writes both stay within a few cache lines.
    const float* g = dy.data() + (n * s.O + o0) * P;
    for (std::size_t p0 = 0; p0 < P; p0 += 16) {
      const std::size_t p1 = std::min(P, p0 + 16);
      for (std::size_t o = 0; o < Oc; ++o)
        for (std::size_t p = p0; p < p1; ++p) t[p * Oc + o] = g[o * P + p];
    }
    // acc [r0 .. w1, Oc] += cols_n [r0 .. w1, P] · t [P, Oc]
    if (w1 > r0) {
      const ColumnsView c = columns_of(n);
      tile_product({.c = acc.data() + r0 * Oc, .ldc = Oc, .a = c.rows ? c.base : c.base + r0 * P, .a_row = P, .a_k = 1,
                    .a_rows = c.rows ? c.rows + r0 : nullptr, .a_cols = c.cols, .b = t.data(), .ldb = Oc,
                    .M = w1 - r0, .J = Oc, .K = P, .init = TileProduct::Init::Accumulate});
    }
    // acc [KK, Oc] (the bias row) += Σ_p 1 · t[p]: fma(1, g, s) is exactly s + g.
    if (bias)
      tile_product({.c = acc.data() + KK * Oc, .ldc = Oc, .a = &one, .a_row = 0, .a_k = 0, .b = t.data(),
                    .ldb = Oc, .M = 1, .J = Oc, .K = P, .init = TileProduct::Init::Accumulate});
  }
  for (std::size_t o = o0; o < o1; ++o) {
    for (std::size_t r = r0; r < w1; ++r) dw[o * KK + r] = acc[r * Oc + o - o0];
    if (bias) db[o] = acc[KK * Oc + o - o0];
  }
}

// Rows [r0, w1) of the transposed columns t [P, R] of a stride-1 layer, from its zero-padded input plane: for output
// pixel p = (oy, ox), patch rows (c, ky, 0 .. K−1) are K consecutive floats of the plane at c·plane + (oy + ky)·S + ox.
// One masked 16-lane move per run (K <= 16), instead of transposing the columns element by element (whose strided
// reads made this path 2.4x slower than the other for lenet5.conv1).
// One run of n <= 8 floats for every output pixel: 4- or 8-lane moves (AVX-512VL), where a 16-lane move spans two
// cache lines more often (lenet5.conv1's weight gradient took 0.72 ms with 16-lane moves, 0.57 ms with 8-lane ones).
__attribute__((target("avx512f,avx512vl"))) void narrow_runs(float* t, std::size_t R, const float* from,
                                                             std::size_t n, std::size_t S, std::size_t OH,
                                                             std::size_t OW) {
  const auto m = static_cast<__mmask8>((1u << n) - 1u);
  if (n <= 4) {
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox)
        _mm_mask_storeu_ps(t + (oy * OW + ox) * R, m, _mm_maskz_loadu_ps(m, from + oy * S + ox));
    return;
  }
  for (std::size_t oy = 0; oy < OH; ++oy)
    for (std::size_t ox = 0; ox < OW; ++ox)
      _mm256_mask_storeu_ps(t + (oy * OW + ox) * R, m, _mm256_maskz_loadu_ps(m, from + oy * S + ox));
}

__attribute__((target("avx512f"))) void transposed_runs_avx512(float* t, std::size_t R, const float* pad,
                                                               const Conv2dShape& s, std::size_t r0, std::size_t w1) {
  const std::size_t K = s.K, S = s.W + 2 * s.padding, plane = (s.H + 2 * s.padding) * S, OH = s.OH(), OW = s.OW();
  for (std::size_t c = 0; c < s.C; ++c)
    for (std::size_t ky = 0; ky < K; ++ky) {
      const std::size_t base = (c * K + ky) * K, lo = std::max(base, r0), hi = std::min(base + K, w1);
      if (hi <= lo) continue;
      const float* from = pad + c * plane + ky * S + (lo - base);
      if (hi - lo <= 8 && kHaveAvx512vl) {
        narrow_runs(t + lo, R, from, hi - lo, S, OH, OW);
        continue;
      }
      const auto m = static_cast<__mmask16>((1u << (hi - lo)) - 1u);
      for (std::size_t oy = 0; oy < OH; ++oy)
        for (std::size_t ox = 0; ox < OW; ++ox)
          _mm512_mask_storeu_ps(t + (oy * OW + ox) * R + lo, m, _mm512_maskz_loadu_ps(m, from + oy * S + ox));
    }
}

void transposed_runs(float* t, std::size_t R, const float* pad, const Conv2dShape& s, std::size_t r0,
                     std::size_t w1) {
  if (kHaveAvx512 && s.K <= 16) return transposed_runs_avx512(t, R, pad, s, r0, w1);
  const std::size_t K = s.K, S = s.W + 2 * s.padding, plane = (s.H + 2 * s.padding) * S, OH = s.OH(), OW = s.OW();
  for (std::size_t c = 0; c < s.C; ++c)
    for (std::size_t ky = 0; ky < K; ++ky)
      for (std::size_t kx = 0; kx < K; ++kx) {
        const std::size_t r = (c * K + ky) * K + kx;
        if (r < r0 || r >= w1) continue;
        for (std::size_t oy = 0; oy < OH; ++oy)
          for (std::size_t ox = 0; ox < OW; ++ox) t[(oy * OW + ox) * R + r] = pad[c * plane + (oy + ky) * S + ox + kx];
      }
}
}  // namespace

void conv2d_backward_weight(std::span<float> dw, std::span<float> db, std::span<const float> dy,
                            std::span<const float> cols, const Conv2dShape& s, std::size_t N, std::size_t o0,
                            std::size_t o1, std::size_t r0, std::size_t r1) {
  const std::size_t size = s.patch() * s.pixels();
  auto columns_of = [&](std::size_t n) { return ColumnsView{cols.data() + n * size}; };
  backward_weight(dw, db, dy, columns_of, nullptr, nullptr, nullptr, s, N, o0, o1, r0, r1);
}

void conv2d_backward_weight_from_input(std::span<float> dw, std::span<float> db, std::span<const float> dy,
                                       std::span<const float> x, const Conv2dShape& s, std::size_t N,
                                       std::size_t o0, std::size_t o1, std::size_t r0, std::size_t r1) {
  const std::size_t image = s.C * s.H * s.W;
  if (s.stride == 1) {
    // Stride 1: the columns are read in place from the padded plane, never written.
    const std::size_t *rows = window_corners(s), *cols = pixel_offsets(s);
    const float* pad = nullptr;
    std::size_t padded = N;  // the image whose padded plane pad is (N: none yet)
    auto plane_of = [&](std::size_t n) {
      if (padded != n) {
        pad = padded_plane(scratch(3), x.data() + n * image, s, kSparseWeightSlack);
        padded = n;
      }
      return pad;
    };
    auto columns_of = [&](std::size_t n) { return ColumnsView{plane_of(n), rows, cols}; };
    auto transposed_of = [&](std::size_t n, float* t, std::size_t R, std::size_t a, std::size_t b) {
      transposed_runs(t, R, plane_of(n), s, a, b);
    };
    auto sparse_of = [&](std::size_t n, float* acc, std::size_t R, const float* dy_n, std::size_t Oc, bool bias) {
      return conv2d_weight_image_sparse(acc, R, dy_n, Oc, plane_of(n), s, bias);
    };
    auto sparse_wide = [&](float* w, float* b, std::size_t a, std::size_t e) {
      return conv2d_weight_sparse_wide(w, b, dy.data(), x.data(), s, N, a, e);
    };
    return backward_weight(dw, db, dy, columns_of, transposed_of, sparse_of, sparse_wide, s, N, o0, o1, r0, r1);
  }
  std::vector<float>& own = scratch(2);
  auto columns_of = [&](std::size_t n) {
    own.resize(s.patch() * s.pixels());
    im2col(own, x.subspan(n * image, image), s);
    return ColumnsView{own.data()};
  };
  backward_weight(dw, db, dy, columns_of, nullptr, nullptr, nullptr, s, N, o0, o1, r0, r1);
}

void conv2d_forward_transient(std::span<float> y, std::span<const float> x, std::span<const float> w,
                              std::span<const float> b, const Conv2dShape& s, std::size_t n0, std::size_t n1) {
  std::vector<float>& own = scratch(2);
  if (s.stride == 1) {
    for (std::size_t n = n0; n < n1; ++n) forward_image_implicit(y, own, x, w, b, s, n);
    return;
  }
  own.resize(s.patch() * s.pixels());
  for (std::size_t n = n0; n < n1; ++n) forward_image(y, own, x, w, b, s, n);
}

}  // namespace mnist::kernels
