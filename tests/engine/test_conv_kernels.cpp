// The convolution, pooling, batch-norm and dropout kernels: against plain double-precision loops on several shapes,
// finite-difference gradients of every backward, the same bits whatever range a call covers, PyTorch's conventions
// (the first maximum on ties, the unbiased running variance, dropout's 1/(1 − p) scale).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/batchnorm2d.hpp"
#include "kernels/conv2d.hpp"
#include "kernels/cpu.hpp"
#include "kernels/dropout.hpp"
#include "kernels/nonzeros.hpp"
#include "kernels/pool2d.hpp"
#include "kernels/tile_product.hpp"
#include "reference_math.hpp"

using namespace mnist;
using namespace mnist::kernels;
using namespace mnist::testing;

namespace {

using Loss = std::function<double(const std::vector<double>&)>;

// Central differences of loss at t, every position: d loss / d t[k].
std::vector<float> numeric_gradient(const Loss& loss, std::vector<double> t, double h = 1e-4) {
  std::vector<float> g(t.size());
  for (std::size_t k = 0; k < t.size(); ++k) {
    const double saved = t[k];
    t[k] = saved + h;
    const double up = loss(t);
    t[k] = saved - h;
    const double down = loss(t);
    t[k] = saved;
    g[k] = static_cast<float>((up - down) / (2 * h));
  }
  return g;
}

double dot(const std::vector<double>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// ---- convolution ----

struct ConvCase {
  std::size_t N;
  Conv2dShape s;
};

std::string name(const ConvCase& c) {
  const Conv2dShape& s = c.s;
  char buf[160];
  std::snprintf(buf, sizeof buf, "N%zu C%zu %zux%zu O%zu K%zu stride %zu padding %zu", c.N, s.C, s.H, s.W, s.O, s.K,
                s.stride, s.padding);
  return buf;
}

// y [N, O, OH, OW] in plain loops.
std::vector<double> ref_conv(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
                             const ConvCase& c) {
  const Conv2dShape& s = c.s;
  const std::size_t OH = s.OH(), OW = s.OW();
  std::vector<double> y(c.N * s.O * OH * OW);
  for (std::size_t n = 0; n < c.N; ++n)
    for (std::size_t o = 0; o < s.O; ++o)
      for (std::size_t oy = 0; oy < OH; ++oy)
        for (std::size_t ox = 0; ox < OW; ++ox) {
          double sum = b.empty() ? 0.0 : b[o];
          for (std::size_t ch = 0; ch < s.C; ++ch)
            for (std::size_t ky = 0; ky < s.K; ++ky)
              for (std::size_t kx = 0; kx < s.K; ++kx) {
                const long iy = static_cast<long>(oy * s.stride + ky) - static_cast<long>(s.padding);
                const long ix = static_cast<long>(ox * s.stride + kx) - static_cast<long>(s.padding);
                if (iy < 0 || ix < 0 || iy >= static_cast<long>(s.H) || ix >= static_cast<long>(s.W)) continue;
                sum += x[((n * s.C + ch) * s.H + static_cast<std::size_t>(iy)) * s.W + static_cast<std::size_t>(ix)] *
                       w[((o * s.C + ch) * s.K + ky) * s.K + kx];
              }
          y[((n * s.O + o) * OH + oy) * OW + ox] = sum;
        }
  return y;
}

struct ConvData {
  ConvCase c;
  std::vector<float> x, w, b, dy;
  explicit ConvData(const ConvCase& cc, std::uint64_t seed = 1)
      : c(cc),
        x(random_floats(cc.N * cc.s.C * cc.s.H * cc.s.W, seed)),
        w(random_floats(cc.s.O * cc.s.patch(), seed + 1)),
        b(random_floats(cc.s.O, seed + 2)),
        dy(random_floats(cc.N * cc.s.O * cc.s.pixels(), seed + 3)) {}
  std::size_t cols_size() const { return c.N * c.s.patch() * c.s.pixels(); }
};

// Stride 1 and 2, padding 0/1/2, odd sizes, kernels 1/3/5, one and several channels; and the presets' own layers.
const std::vector<ConvCase> kConvCases = {
    {2, {.C = 1, .H = 7, .W = 5, .O = 1, .K = 3, .stride = 1, .padding = 0}},
    {3, {.C = 2, .H = 7, .W = 5, .O = 3, .K = 3, .stride = 1, .padding = 1}},
    {2, {.C = 3, .H = 9, .W = 6, .O = 5, .K = 3, .stride = 2, .padding = 1}},
    {2, {.C = 2, .H = 8, .W = 7, .O = 4, .K = 5, .stride = 2, .padding = 2}},
    {2, {.C = 3, .H = 5, .W = 7, .O = 7, .K = 1, .stride = 1, .padding = 0}},
    {1, {.C = 1, .H = 5, .W = 5, .O = 2, .K = 5, .stride = 1, .padding = 0}},
    {2, {.C = 4, .H = 6, .W = 6, .O = 3, .K = 5, .stride = 1, .padding = 2}},
    {2, {.C = 2, .H = 4, .W = 3, .O = 17, .K = 3, .stride = 3, .padding = 2}},
    {2, {.C = 1, .H = 28, .W = 28, .O = 6, .K = 5, .stride = 1, .padding = 2}},     // lenet5 conv1
    {2, {.C = 6, .H = 14, .W = 14, .O = 16, .K = 5, .stride = 1, .padding = 0}},    // lenet5 conv2
    {1, {.C = 32, .H = 14, .W = 14, .O = 64, .K = 3, .stride = 1, .padding = 1}},   // cnn conv2
    {2, {.C = 3, .H = 9, .W = 18, .O = 20, .K = 3, .stride = 1, .padding = 0}},     // no padding, W > 16, O > 16
    {1, {.C = 1, .H = 20, .W = 20, .O = 4, .K = 9, .stride = 1, .padding = 1}},     // runs of 9 floats
    {1, {.C = 1, .H = 20, .W = 20, .O = 3, .K = 17, .stride = 1, .padding = 1}},    // K > 16: the fallbacks
};

}  // namespace

TEST(TileProduct, VectorPathHasTheScalarPathsBitsAndTheDoubleSums) {
  struct Case {
    std::size_t M, J, K;
    TileProduct::Init init;
  };
  for (const Case& t : {Case{1, 1, 1, TileProduct::Init::Zero}, Case{7, 17, 5, TileProduct::Init::Rows},
                        Case{13, 65, 30, TileProduct::Init::Accumulate}, Case{6, 64, 9, TileProduct::Init::Zero},
                        Case{5, 100, 3, TileProduct::Init::Rows}, Case{25, 6, 40, TileProduct::Init::Accumulate}}) {
    const std::vector<float> a = random_floats(t.M * t.K, 1), b = random_floats(t.K * t.J, 2),
                             rows = random_floats(t.M, 3), c0 = random_floats(t.M * t.J, 4);
    std::vector<float> fast = c0, slow = c0;
    TileProduct p{.c = fast.data(), .ldc = t.J, .a = a.data(), .a_row = t.K, .a_k = 1, .b = b.data(), .ldb = t.J,
                  .M = t.M, .J = t.J, .K = t.K, .init = t.init, .row_init = rows.data()};
    tile_product(p);
    p.c = slow.data();
    tile_product_on(TilePath::Scalar, p);
    EXPECT_EQ(fast, slow) << t.M << "x" << t.J << "x" << t.K;
    for (const auto& [path, have] : {std::pair{TilePath::Avx2, kHaveAvx2}, std::pair{TilePath::Avx512, kHaveAvx512}}) {
      if (!have) continue;
      std::vector<float> other = c0;
      p.c = other.data();
      tile_product_on(path, p);
      EXPECT_EQ(other, slow) << t.M << "x" << t.J << "x" << t.K << " path " << static_cast<int>(path);
    }
    std::vector<float> want(t.M * t.J);
    for (std::size_t i = 0; i < t.M; ++i)
      for (std::size_t j = 0; j < t.J; ++j) {
        double s = t.init == TileProduct::Init::Zero ? 0.0 : t.init == TileProduct::Init::Rows ? rows[i] : c0[i * t.J + j];
        for (std::size_t k = 0; k < t.K; ++k) s += static_cast<double>(a[i * t.K + k]) * b[k * t.J + j];
        want[i * t.J + j] = static_cast<float>(s);
      }
    EXPECT_LT(worst_rel(fast, want), 1e-5) << t.M << "x" << t.J << "x" << t.K;
  }
}

// Rows of B given by offsets (an implicit im2col): every path reads row k at b + b_rows[k], with the same bits as
// the product over those rows copied out into a plain B.
TEST(TileProduct, RowOffsetsReadTheRowsTheyName) {
  const std::size_t M = 7, J = 37, K = 9, span = 60;
  const std::vector<float> a = random_floats(M * K, 5), plane = random_floats(K * span, 6);
  std::vector<std::size_t> rows(K);
  std::vector<float> b(K * J);
  for (std::size_t k = 0; k < K; ++k) {
    rows[k] = (K - 1 - k) * span + (k * 7) % (span - J);  // out of order, overlapping nothing in particular
    std::copy_n(plane.data() + rows[k], J, b.data() + k * J);
  }
  std::vector<float> want(M * J);
  tile_product_on(TilePath::Scalar, {.c = want.data(), .ldc = J, .a = a.data(), .a_row = K, .a_k = 1, .b = b.data(),
                                     .ldb = J, .M = M, .J = J, .K = K});
  for (const auto& [path, have] : {std::pair{TilePath::Scalar, true}, std::pair{TilePath::Avx2, kHaveAvx2},
                                   std::pair{TilePath::Avx512, kHaveAvx512}}) {
    if (!have) continue;
    std::vector<float> got(M * J, -1.0f);
    tile_product_on(path, {.c = got.data(), .ldc = J, .a = a.data(), .a_row = K, .a_k = 1, .b = plane.data(),
                           .ldb = 0, .b_rows = rows.data(), .M = M, .J = J, .K = K});
    EXPECT_EQ(got, want) << "path " << static_cast<int>(path);
  }
}

// A read through row and column offset tables (the weight gradient's implicit im2col): every path reads A[i, k] at
// a + a_rows[i] + a_cols[k], with the same bits as the product over that A copied out plainly.
TEST(TileProduct, OffsetTablesReadTheElementsTheyName) {
  const std::size_t M = 13, J = 21, K = 11, span = 50;
  const std::vector<float> plane = random_floats(M * span + K * 3, 7), b = random_floats(K * J, 8);
  std::vector<std::size_t> rows(M), cols(K);
  for (std::size_t i = 0; i < M; ++i) rows[i] = (M - 1 - i) * span + i % 3;  // out of order
  for (std::size_t k = 0; k < K; ++k) cols[k] = (k * 5) % 17;                // not monotonic
  std::vector<float> a(M * K);
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t k = 0; k < K; ++k) a[i * K + k] = plane[rows[i] + cols[k]];
  std::vector<float> want(M * J, 0.75f);
  tile_product_on(TilePath::Scalar, {.c = want.data(), .ldc = J, .a = a.data(), .a_row = K, .a_k = 1, .b = b.data(),
                                     .ldb = J, .M = M, .J = J, .K = K, .init = TileProduct::Init::Accumulate});
  for (const auto& [path, have] : {std::pair{TilePath::Scalar, true}, std::pair{TilePath::Avx2, kHaveAvx2},
                                   std::pair{TilePath::Avx512, kHaveAvx512}}) {
    if (!have) continue;
    std::vector<float> got(M * J, 0.75f);
    tile_product_on(path, {.c = got.data(), .ldc = J, .a = plane.data(), .a_row = 0, .a_k = 0, .a_rows = rows.data(),
                           .a_cols = cols.data(), .b = b.data(), .ldb = J, .M = M, .J = J, .K = K,
                           .init = TileProduct::Init::Accumulate});
    EXPECT_EQ(got, want) << "path " << static_cast<int>(path);
  }
}

TEST(Conv2dKernel, Im2colAndCol2imMatchPlainLoops) {
  for (const ConvCase& c : kConvCases) {
    const Conv2dShape& s = c.s;
    const std::size_t KK = s.patch(), P = s.pixels(), OW = s.OW();
    const std::vector<float> x = random_floats(s.C * s.H * s.W, 1), d = random_floats(KK * P, 2);
    std::vector<float> cols(KK * P, -7.0f), dx(s.C * s.H * s.W, 0.5f);
    im2col(cols, x, s);
    col2im_add(dx, d, s);
    std::vector<double> want_dx(dx.size(), 0.5);
    for (std::size_t r = 0; r < KK; ++r) {
      const std::size_t ch = r / (s.K * s.K), ky = r / s.K % s.K, kx = r % s.K;
      for (std::size_t p = 0; p < P; ++p) {
        const long iy = static_cast<long>(p / OW * s.stride + ky) - static_cast<long>(s.padding);
        const long ix = static_cast<long>(p % OW * s.stride + kx) - static_cast<long>(s.padding);
        const bool in = iy >= 0 && ix >= 0 && iy < static_cast<long>(s.H) && ix < static_cast<long>(s.W);
        const std::size_t at = in ? (ch * s.H + static_cast<std::size_t>(iy)) * s.W + static_cast<std::size_t>(ix) : 0;
        ASSERT_EQ(cols[r * P + p], in ? x[at] : 0.0f) << name(c) << " row " << r << " column " << p;
        if (in) want_dx[at] += d[r * P + p];
      }
    }
    EXPECT_LT(worst_rel(dx, to_float(want_dx)), 1e-6) << name(c);
    // And the bits of the plain float loop in row order (c, ky, kx), then pixels: the order every path keeps.
    std::vector<float> plain(dx.size(), 0.5f);
    for (std::size_t r = 0; r < KK; ++r)
      for (std::size_t p = 0; p < P; ++p) {
        const long iy = static_cast<long>(p / OW * s.stride + r / s.K % s.K) - static_cast<long>(s.padding);
        const long ix = static_cast<long>(p % OW * s.stride + r % s.K) - static_cast<long>(s.padding);
        if (iy >= 0 && ix >= 0 && iy < static_cast<long>(s.H) && ix < static_cast<long>(s.W))
          plain[(r / (s.K * s.K) * s.H + static_cast<std::size_t>(iy)) * s.W + static_cast<std::size_t>(ix)] +=
              d[r * P + p];
      }
    EXPECT_EQ(dx, plain) << name(c);
  }
}

TEST(Conv2dKernel, ForwardMatchesPlainLoops) {
  for (const ConvCase& c : kConvCases) {
    const ConvData d(c);
    std::vector<float> y(c.N * c.s.O * c.s.pixels(), -9.0f), cols(d.cols_size());
    conv2d_forward(y, cols, d.x, d.w, d.b, c.s, 0, c.N);
    EXPECT_LT(worst_rel(y, to_float(ref_conv(to_double(d.x), to_double(d.w), to_double(d.b), c))), 1e-5) << name(c);
    // Without a bias.
    conv2d_forward(y, cols, d.x, d.w, {}, c.s, 0, c.N);
    EXPECT_LT(worst_rel(y, to_float(ref_conv(to_double(d.x), to_double(d.w), {}, c))), 1e-5) << name(c);
  }
}

// L = Σ y ⊙ R through the double reference; the kernels' gradients (R as dy) against central differences.
TEST(Conv2dKernel, BackwardMatchesFiniteDifferences) {
  for (const ConvCase& c : kConvCases) {
    if (c.s.C * c.s.H * c.s.W > 200) continue;  // exhaustive differences: the small shapes
    const ConvData d(c, 11);
    const Conv2dShape& s = c.s;
    std::vector<float> y(c.N * s.O * s.pixels()), cols(d.cols_size()), dcols(s.patch() * s.pixels());
    std::vector<float> dx(d.x.size(), 3.0f), dw(d.w.size(), 0.0f), db(s.O, 0.0f);
    conv2d_forward(y, cols, d.x, d.w, d.b, s, 0, c.N);
    conv2d_backward_input(dx, dcols, d.dy, d.w, s, 0, c.N);
    conv2d_backward_weight(dw, db, d.dy, cols, s, c.N, 0, s.O);
    const std::vector<double> x = to_double(d.x), w = to_double(d.w), b = to_double(d.b);
    const auto gx = numeric_gradient([&](const std::vector<double>& t) { return dot(ref_conv(t, w, b, c), d.dy); }, x);
    const auto gw = numeric_gradient([&](const std::vector<double>& t) { return dot(ref_conv(x, t, b, c), d.dy); }, w);
    const auto gb = numeric_gradient([&](const std::vector<double>& t) { return dot(ref_conv(x, w, t, c), d.dy); }, b);
    EXPECT_LT(worst_rel(dx, gx), 1e-5) << name(c);
    EXPECT_LT(worst_rel(dw, gw), 1e-5) << name(c);
    EXPECT_LT(worst_rel(db, gb), 1e-5) << name(c);
  }
}

// Larger shapes (the presets' layers): the gradients against the same sums written out in double.
TEST(Conv2dKernel, BackwardMatchesPlainLoopsAndAccumulates) {
  for (const ConvCase& c : kConvCases) {
    const ConvData d(c, 21);
    const Conv2dShape& s = c.s;
    const std::size_t KK = s.patch(), P = s.pixels();
    std::vector<float> y(c.N * s.O * P), cols(d.cols_size()), dcols(KK * P), dx(d.x.size());
    const std::vector<float> dw0 = random_floats(d.w.size(), 5), db0 = random_floats(s.O, 6);
    std::vector<float> dw = dw0, db = db0;
    conv2d_forward(y, cols, d.x, d.w, d.b, s, 0, c.N);
    conv2d_backward_input(dx, dcols, d.dy, d.w, s, 0, c.N);
    conv2d_backward_weight(dw, db, d.dy, cols, s, c.N, 0, s.O);
    std::vector<double> want_dw = to_double(dw0), want_db = to_double(db0), want_dx(dx.size(), 0.0);
    for (std::size_t n = 0; n < c.N; ++n)
      for (std::size_t o = 0; o < s.O; ++o)
        for (std::size_t p = 0; p < P; ++p) {
          const double g = d.dy[(n * s.O + o) * P + p];
          want_db[o] += g;
          const std::size_t oy = p / s.OW(), ox = p % s.OW();
          for (std::size_t r = 0; r < KK; ++r) {
            const std::size_t ch = r / (s.K * s.K), ky = r / s.K % s.K, kx = r % s.K;
            const long iy = static_cast<long>(oy * s.stride + ky) - static_cast<long>(s.padding);
            const long ix = static_cast<long>(ox * s.stride + kx) - static_cast<long>(s.padding);
            if (iy < 0 || ix < 0 || iy >= static_cast<long>(s.H) || ix >= static_cast<long>(s.W)) continue;
            const std::size_t at =
                ((n * s.C + ch) * s.H + static_cast<std::size_t>(iy)) * s.W + static_cast<std::size_t>(ix);
            want_dw[o * KK + r] += g * d.x[at];
            want_dx[at] += g * d.w[o * KK + r];
          }
        }
    EXPECT_LT(worst_rel(dx, to_float(want_dx)), 1e-5) << name(c);
    EXPECT_LT(worst_rel(dw, to_float(want_dw)), 1e-5) << name(c);  // += onto what was there
    EXPECT_LT(worst_rel(db, to_float(want_db)), 1e-5) << name(c);
    // No bias gradient asked for: dw the same bits.
    std::vector<float> dw2 = dw0;
    conv2d_backward_weight(dw2, {}, d.dy, cols, s, c.N, 0, s.O);
    EXPECT_EQ(dw2, dw) << name(c);
  }
}

// Images split as [0, 1) [1, N) and output channels one at a time or in uneven ranges: the same bits as one call.
TEST(Conv2dKernel, ResultsDoNotDependOnTheRangesOfACall) {
  for (const ConvCase& c : kConvCases) {
    const ConvData d(c, 31);
    const Conv2dShape& s = c.s;
    const std::size_t KK = s.patch(), P = s.pixels();
    std::vector<float> y1(c.N * s.O * P), y2(y1.size()), cols1(d.cols_size()), cols2(d.cols_size());
    conv2d_forward(y1, cols1, d.x, d.w, d.b, s, 0, c.N);
    for (std::size_t n = 0; n < c.N; ++n) conv2d_forward(y2, cols2, d.x, d.w, d.b, s, n, n + 1);
    EXPECT_EQ(y1, y2) << name(c);
    EXPECT_EQ(cols1, cols2) << name(c);
    std::vector<float> dx1(d.x.size()), dx2(d.x.size(), 5.0f), dcols(KK * P);
    conv2d_backward_input(dx1, dcols, d.dy, d.w, s, 0, c.N);
    conv2d_backward_input(dx2, dcols, d.dy, d.w, s, 0, 1);
    conv2d_backward_input(dx2, dcols, d.dy, d.w, s, 1, c.N);
    EXPECT_EQ(dx1, dx2) << name(c);
    std::vector<float> dw1(s.O * KK, 0.25f), db1(s.O, 0.5f), dw2 = dw1, db2 = db1, dw3 = dw1, db3 = db1;
    conv2d_backward_weight(dw1, db1, d.dy, cols1, s, c.N, 0, s.O);
    for (std::size_t o = 0; o < s.O; ++o) conv2d_backward_weight(dw2, db2, d.dy, cols1, s, c.N, o, o + 1);
    const std::size_t cut = s.O * 2 / 3;
    conv2d_backward_weight(dw3, db3, d.dy, cols1, s, c.N, cut, s.O);
    conv2d_backward_weight(dw3, db3, d.dy, cols1, s, c.N, 0, cut);
    EXPECT_EQ(dw1, dw2) << name(c);
    EXPECT_EQ(db1, db2) << name(c);
    EXPECT_EQ(dw1, dw3) << name(c);
    EXPECT_EQ(db1, db3) << name(c);
    // Ranges of patch rows (row C·K·K: the bias), in any order: the same bits.
    std::vector<float> dw4(s.O * KK, 0.25f), db4(s.O, 0.5f);
    const std::size_t R = KK + 1, cut_r = R / 3;
    conv2d_backward_weight(dw4, db4, d.dy, cols1, s, c.N, 0, s.O, cut_r, R);
    conv2d_backward_weight(dw4, db4, d.dy, cols1, s, c.N, 0, s.O, 0, cut_r);
    EXPECT_EQ(dw1, dw4) << name(c);
    EXPECT_EQ(db1, db4) << name(c);
  }
}

// Without the kept columns (stride 1: the implicit im2col over a padded plane; other strides: private columns): the
// same bits as with them, for the whole batch and for ranges.
TEST(Conv2dKernel, TransientColumnsGiveTheSameBits) {
  for (const ConvCase& c : kConvCases) {
    const ConvData d(c, 33);
    const Conv2dShape& s = c.s;
    std::vector<float> y1(c.N * s.O * s.pixels()), y2(y1.size()), cols(d.cols_size());
    conv2d_forward(y1, cols, d.x, d.w, d.b, s, 0, c.N);
    conv2d_forward_transient(y2, d.x, d.w, d.b, s, 1, c.N);
    conv2d_forward_transient(y2, d.x, d.w, d.b, s, 0, 1);
    EXPECT_EQ(y1, y2) << name(c);
    std::vector<float> dw1(s.O * s.patch(), 0.5f), db1(s.O, 0.25f), dw2 = dw1, db2 = db1;
    conv2d_backward_weight(dw1, db1, d.dy, cols, s, c.N, 0, s.O);
    const std::size_t cut = s.O / 2;
    conv2d_backward_weight_from_input(dw2, db2, d.dy, d.x, s, c.N, cut, s.O);
    conv2d_backward_weight_from_input(dw2, db2, d.dy, d.x, s, c.N, 0, cut);
    EXPECT_EQ(dw1, dw2) << name(c);
    EXPECT_EQ(db1, db2) << name(c);
    std::vector<float> dw3(s.O * s.patch(), 0.5f), db3(s.O, 0.25f);
    const std::size_t rows = s.patch() / 2 + 1;
    conv2d_backward_weight_from_input(dw3, db3, d.dy, d.x, s, c.N, 0, s.O, rows, s.patch() + 1);
    conv2d_backward_weight_from_input(dw3, db3, d.dy, d.x, s, c.N, 0, s.O, 0, rows);
    EXPECT_EQ(dw1, dw3) << name(c);
    EXPECT_EQ(db1, db3) << name(c);
  }
}

// An output gradient as a ReLU and a 2x2 max pooling hand it back (one nonzero per window at most, none where the
// maximum was off) takes the sparse weight and input gradients (kernels/conv2d_sparse_weight.hpp,
// conv2d_sparse_input.hpp), which skip the zeros: the same bits as the dense products (over the kept columns; the
// columns' gradient as one TileProduct). Image 0 is pooled-sparse, image 1 dense (the dense products), image 2 all
// zeros but one element; every shape with an odd channel count leaves one channel unpaired.
TEST(Conv2dKernel, SparseOutputGradientGivesTheSameBits) {
  struct Case {
    ConvCase c;
    bool weight_sparse, input_sparse;  // which sparse paths must run (on a CPU with AVX-512VL)
  };
  const std::vector<Case> cases = {
      {{3, {.C = 1, .H = 28, .W = 28, .O = 6, .K = 5, .stride = 1, .padding = 2}}, true, false},   // lenet5 conv1
      {{3, {.C = 6, .H = 14, .W = 14, .O = 16, .K = 5, .stride = 1, .padding = 0}}, true, false},  // lenet5 conv2
      {{3, {.C = 1, .H = 12, .W = 12, .O = 13, .K = 3, .stride = 1, .padding = 1}}, true, false},  // O > patch rows
      {{3, {.C = 2, .H = 9, .W = 11, .O = 5, .K = 7, .stride = 1, .padding = 3}}, true, false},
      {{3, {.C = 3, .H = 8, .W = 8, .O = 3, .K = 8, .stride = 1, .padding = 0}}, true, false},  // runs of 8: a vector
      {{3, {.C = 1, .H = 6, .W = 7, .O = 4, .K = 1, .stride = 1, .padding = 0}}, true, false},
      {{3, {.C = 1, .H = 12, .W = 12, .O = 4, .K = 9, .stride = 1, .padding = 1}}, false, false},  // K > 8: dense
      {{3, {.C = 32, .H = 14, .W = 14, .O = 64, .K = 3, .stride = 1, .padding = 1}}, true, true},  // cnn.conv2
      {{3, {.C = 20, .H = 7, .W = 9, .O = 24, .K = 3, .stride = 1, .padding = 1}}, true, true},  // tap rows of 60
      {{3, {.C = 19, .H = 9, .W = 9, .O = 5, .K = 3, .stride = 2, .padding = 1}}, false, true},  // stride 2
  };
  // Bit for bit, zeros' signs and NaNs' payloads included.
  auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  for (const auto& [c, weight_sparse, input_sparse] : cases) {
    ConvData d(c, 71);
    const Conv2dShape& s = c.s;
    const std::size_t OH = s.OH(), OW = s.OW(), P = OH * OW;
    for (std::size_t o = 0; o < s.O; ++o) {
      float* image0 = d.dy.data() + o * P;  // pooled: the window's largest |g| where it is positive, else nothing
      for (std::size_t py = 0; py < OH; py += 2)
        for (std::size_t px = 0; px < OW; px += 2) {
          std::size_t best = py * OW + px;
          for (std::size_t y = py; y < std::min(OH, py + 2); ++y)
            for (std::size_t x = px; x < std::min(OW, px + 2); ++x)
              if (image0[y * OW + x] > image0[best]) best = y * OW + x;
          const float keep = image0[best] > 0.2f ? image0[best] - 0.5f : 0.0f;  // both signs
          for (std::size_t y = py; y < std::min(OH, py + 2); ++y)
            for (std::size_t x = px; x < std::min(OW, px + 2); ++x) image0[y * OW + x] = 0.0f;
          image0[best] = keep;
        }
      float* image2 = d.dy.data() + (2 * s.O + o) * P;
      std::fill(image2, image2 + P, 0.0f);
    }
    d.dy[(2 * s.O + s.O - 1) * P + P - 1] = -1.5f;  // the last pixel of the last channel: the runs' far end
    std::vector<float> cols(d.cols_size()), y(c.N * s.O * P);
    conv2d_forward(y, cols, d.x, d.w, d.b, s, 0, c.N);
    const std::size_t image = s.C * s.H * s.W, KK = s.patch();
    std::vector<float> dx(c.N * image, 7.0f), dx_dense(dx.size(), 0.0f), dcols(KK * P);
    const std::size_t before_input = sparse_gradient_runs();
    conv2d_backward_input(dx, dcols, d.dy, d.w, s, 0, c.N);
    if (kHaveAvx512vl)
      EXPECT_EQ(sparse_gradient_runs() > before_input, input_sparse) << name(c) << ": the sparse input gradient";
    for (std::size_t n = 0; n < c.N; ++n) {
      tile_product({.c = dcols.data(), .ldc = P, .a = d.w.data(), .a_row = 1, .a_k = KK, .b = d.dy.data() + n * s.O * P,
                    .ldb = P, .M = KK, .J = P, .K = s.O});
      col2im_add(std::span(dx_dense).subspan(n * image, image), dcols, s);
    }
    EXPECT_TRUE(same_bits(dx, dx_dense)) << name(c);
    for (const float start : {0.0f, 0.5f}) {
      std::vector<float> dw1(s.O * s.patch(), start), db1(s.O, start), dw2 = dw1, db2 = db1, dw3 = dw1, db3 = db1;
      conv2d_backward_weight(dw1, db1, d.dy, cols, s, c.N, 0, s.O);
      const std::size_t before_weight = sparse_gradient_runs();
      conv2d_backward_weight_from_input(dw2, db2, d.dy, d.x, s, c.N, 0, s.O);
      if (kHaveAvx512vl)
        EXPECT_EQ(sparse_gradient_runs() > before_weight, weight_sparse) << name(c) << ": the sparse weight gradient";
      EXPECT_TRUE(same_bits(dw1, dw2)) << name(c);
      EXPECT_TRUE(same_bits(db1, db2)) << name(c);
      const std::size_t cut = s.O / 2 + 1;  // ranges of channels: a lone channel in a range of odd size
      conv2d_backward_weight_from_input(dw3, db3, d.dy, d.x, s, c.N, cut, s.O);
      conv2d_backward_weight_from_input(dw3, db3, d.dy, d.x, s, c.N, 0, cut);
      EXPECT_TRUE(same_bits(dw1, dw3)) << name(c);
      EXPECT_TRUE(same_bits(db1, db3)) << name(c);
      std::vector<float> dw4(s.O * s.patch(), start);  // without the bias gradient
      conv2d_backward_weight_from_input(dw4, {}, d.dy, d.x, s, c.N, 0, s.O);
      EXPECT_TRUE(same_bits(dw1, dw4)) << name(c);
    }
  }
}

// ---- pooling ----

namespace {
struct PoolCase {
  std::size_t planes;
  Pool2dShape s;
};
const std::vector<PoolCase> kPoolCases = {{3, {.H = 4, .W = 4, .K = 2, .stride = 2}},
                                          {2, {.H = 7, .W = 5, .K = 2, .stride = 2}},
                                          {2, {.H = 7, .W = 7, .K = 3, .stride = 2}},  // overlapping windows
                                          {2, {.H = 6, .W = 5, .K = 3, .stride = 1}},
                                          {4, {.H = 28, .W = 28, .K = 2, .stride = 2}},
                                          {2, {.H = 5, .W = 39, .K = 2, .stride = 2}}};  // 19 windows a row

// Window (oy, ox)'s input indices within its plane, in row-major order.
std::vector<std::size_t> window(const Pool2dShape& s, std::size_t oy, std::size_t ox) {
  std::vector<std::size_t> w;
  for (std::size_t ky = 0; ky < s.K; ++ky)
    for (std::size_t kx = 0; kx < s.K; ++kx) w.push_back((oy * s.stride + ky) * s.W + ox * s.stride + kx);
  return w;
}

std::vector<double> ref_maxpool(const std::vector<double>& x, const PoolCase& c) {
  const Pool2dShape& s = c.s;
  std::vector<double> y;
  for (std::size_t pl = 0; pl < c.planes; ++pl)
    for (std::size_t oy = 0; oy < s.OH(); ++oy)
      for (std::size_t ox = 0; ox < s.OW(); ++ox) {
        double m = -HUGE_VAL;
        for (std::size_t i : window(s, oy, ox)) m = std::max(m, x[pl * s.H * s.W + i]);
        y.push_back(m);
      }
  return y;
}

std::vector<double> ref_avgpool(const std::vector<double>& x, const PoolCase& c) {
  const Pool2dShape& s = c.s;
  std::vector<double> y;
  for (std::size_t pl = 0; pl < c.planes; ++pl)
    for (std::size_t oy = 0; oy < s.OH(); ++oy)
      for (std::size_t ox = 0; ox < s.OW(); ++ox) {
        double m = 0;
        for (std::size_t i : window(s, oy, ox)) m += x[pl * s.H * s.W + i];
        y.push_back(m / static_cast<double>(s.K * s.K));
      }
  return y;
}
}  // namespace

TEST(Pool2dKernel, MaxForwardAndBackwardMatchPlainLoopsAndDifferences) {
  for (const PoolCase& c : kPoolCases) {
    const Pool2dShape& s = c.s;
    const std::size_t out = c.planes * s.OH() * s.OW();
    const std::vector<float> x = random_floats(c.planes * s.H * s.W, 41), dy = random_floats(out, 42);
    std::vector<float> y(out), dx(x.size(), 9.0f);
    std::vector<std::uint32_t> argmax(out);
    maxpool2d_forward(y, argmax, x, s, 0, c.planes);
    EXPECT_EQ(y, to_float(ref_maxpool(to_double(x), c)));
    maxpool2d_backward(dx, dy, argmax, s, 0, c.planes);
    // Exactly the scatter of each window's gradient onto zeros at its argmax (every shape, the vector path's too).
    std::vector<float> scattered(x.size(), 0.0f);
    for (std::size_t o = 0; o < out; ++o) scattered[o / (s.OH() * s.OW()) * s.H * s.W + argmax[o]] += dy[o];
    EXPECT_EQ(dx, scattered) << s.H << "x" << s.W << " K" << s.K;
    // Distinct random values: the maximum is unique and differences see the gradient (exhaustive: small shapes).
    if (x.size() <= 200) {
      const auto g = numeric_gradient([&](const std::vector<double>& t) { return dot(ref_maxpool(t, c), dy); },
                                      to_double(x), 1e-6);
      EXPECT_LT(worst_rel(dx, g), 1e-5) << s.H << "x" << s.W << " K" << s.K;
    }
    // Planes one at a time: the same bits.
    std::vector<float> y2(out), dx2(x.size());
    std::vector<std::uint32_t> argmax2(out);
    for (std::size_t p = 0; p < c.planes; ++p) {
      maxpool2d_forward(y2, argmax2, x, s, p, p + 1);
      maxpool2d_backward(dx2, dy, argmax2, s, p, p + 1);
    }
    EXPECT_EQ(y, y2);
    EXPECT_EQ(argmax, argmax2);
    EXPECT_EQ(dx, dx2);
  }
}

// Ties (a constant input, and ties placed in the middle of windows): the gradient goes to the FIRST maximum in
// row-major order, as PyTorch's; overlapping windows add at a shared first maximum.
TEST(Pool2dKernel, MaxGradientGoesToTheFirstMaximumOnTies) {
  for (const PoolCase& c : kPoolCases) {
    const Pool2dShape& s = c.s;
    const std::size_t out = c.planes * s.OH() * s.OW(), in = s.H * s.W;
    const std::vector<float> x(c.planes * in, 0.75f), dy = random_floats(out, 43);
    std::vector<float> y(out), dx(x.size());
    std::vector<std::uint32_t> argmax(out);
    maxpool2d_forward(y, argmax, x, s, 0, c.planes);
    maxpool2d_backward(dx, dy, argmax, s, 0, c.planes);
    std::vector<double> want(x.size(), 0.0);
    std::size_t k = 0;
    for (std::size_t pl = 0; pl < c.planes; ++pl)
      for (std::size_t oy = 0; oy < s.OH(); ++oy)
        for (std::size_t ox = 0; ox < s.OW(); ++ox, ++k) {
          EXPECT_EQ(argmax[k], window(s, oy, ox).front());
          want[pl * in + window(s, oy, ox).front()] += dy[k];
        }
    EXPECT_LT(worst_rel(dx, to_float(want)), 1e-6);
    EXPECT_EQ(y, std::vector<float>(out, 0.75f));
  }
  // A tie between the 2nd and 4th entries of a 2x2 window above the 1st and 3rd: the 2nd wins.
  const Pool2dShape s{.H = 2, .W = 2, .K = 2, .stride = 2};
  const std::vector<float> x{1, 3, 2, 3}, dy{1};
  std::vector<float> y(1), dx(4);
  std::vector<std::uint32_t> argmax(1);
  maxpool2d_forward(y, argmax, x, s, 0, 1);
  maxpool2d_backward(dx, dy, argmax, s, 0, 1);
  EXPECT_EQ(argmax[0], 1u);
  EXPECT_EQ(dx, (std::vector<float>{0, 1, 0, 0}));
  // NaN propagates (PyTorch: a NaN takes the window), and an all -inf window keeps its first index.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> xn{1, nan, 5, 2}, xi{-inf, -inf, -inf, -inf};
  maxpool2d_forward(y, argmax, xn, s, 0, 1);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(argmax[0], 1u);
  maxpool2d_forward(y, argmax, xi, s, 0, 1);
  EXPECT_EQ(y[0], -inf);
  EXPECT_EQ(argmax[0], 0u);
}

// The ReLU read by the pooling: bit for bit relu_forward then maxpool2d_forward, and maxpool2d_backward then
// relu_backward, over negatives, zeros of both signs, NaNs, infinities and ties (all-negative windows among them).
TEST(Pool2dKernel, ReluMaxPoolIsReluThenMaxPoolBitForBit) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> specials{-0.0f, 0.0f, nan, -inf, inf, 0.5f, 0.5f, -0.5f, -2.0f};
  for (const PoolCase& c : kPoolCases) {
    const Pool2dShape& s = c.s;
    const std::size_t in = c.planes * s.H * s.W, out = c.planes * s.OH() * s.OW();
    std::vector<float> x = random_floats(in, 44);
    for (std::size_t i = 0; i < in; ++i)
      if (i % 3 == 0) x[i] = specials[(i / 3) % specials.size()];
      else if (i % 3 == 1) x[i] = -std::fabs(x[i]);  // windows with no positive element
    std::vector<float> dy = random_floats(out, 45);
    dy[0] = nan;
    dy[out - 1] = -0.0f;
    // The two layers.
    std::vector<float> relu(in), y(out), dpool(in, 7.0f), dx(in, 7.0f);
    std::vector<std::uint32_t> argmax(out);
    relu_forward(relu, x, in);
    maxpool2d_forward(y, argmax, relu, s, 0, c.planes);
    maxpool2d_backward(dpool, dy, argmax, s, 0, c.planes);
    relu_backward(dx, dpool, relu, in);
    // The fused one.
    std::vector<float> fy(out), fdx(in, 7.0f);
    std::vector<std::uint32_t> fargmax(out);
    relu_maxpool2d_forward(fy, fargmax, x, s, 0, c.planes);
    relu_maxpool2d_backward(fdx, dy, fy, fargmax, s, 0, c.planes);
    EXPECT_EQ(std::memcmp(fy.data(), y.data(), out * sizeof(float)), 0) << s.H << "x" << s.W << " K" << s.K;
    EXPECT_EQ(fargmax, argmax) << s.H << "x" << s.W << " K" << s.K;
    EXPECT_EQ(std::memcmp(fdx.data(), dx.data(), in * sizeof(float)), 0) << s.H << "x" << s.W << " K" << s.K;
  }
}

// Batch norm's eval transform read by the pooling: bit for bit batchnorm2d_forward_eval, relu_forward and
// maxpool2d_forward, with channels of negative, zero and large scales (planes cycle through the channels).
TEST(Pool2dKernel, BatchNormReluMaxPoolIsTheThreeLayersBitForBit) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const PoolCase& c : kPoolCases) {
    const Pool2dShape& s = c.s;
    const std::size_t C = c.planes >= 3 ? 3 : c.planes, N = (c.planes + C - 1) / C, planes = N * C;
    const std::size_t HW = s.H * s.W, in = planes * HW, out = planes * s.OH() * s.OW();
    std::vector<float> x = random_floats(in, 46);
    x[1] = nan;
    x[2] = -0.0f;
    const std::vector<float> mean{0.3f, -0.2f, 1.7f}, var{0.5f, 2.0f, 1e-3f}, gamma{1.3f, -0.7f, 0.0f},
        beta{0.1f, 0.05f, -0.2f};
    const std::span<const float> m(mean.data(), C), v(var.data(), C), g(gamma.data(), C), b(beta.data(), C);
    std::vector<float> norm(in), relu(in), y(out);
    std::vector<std::uint32_t> argmax(out);
    batchnorm2d_forward_eval(norm, x, m, v, g, b, N, C, HW, 1e-5f, 0, C);
    relu_forward(relu, norm, in);
    maxpool2d_forward(y, argmax, relu, s, 0, planes);
    std::vector<ChannelAffine> affine(C);
    for (std::size_t ch = 0; ch < C; ++ch) affine[ch] = batchnorm2d_eval_affine(m, v, g, b, 1e-5f, ch);
    std::vector<float> fy(out);
    std::vector<std::uint32_t> fargmax(out);
    batchnorm_relu_maxpool2d_forward(fy, fargmax, x, affine, s, 0, planes);
    EXPECT_EQ(std::memcmp(fy.data(), y.data(), out * sizeof(float)), 0) << s.H << "x" << s.W << " K" << s.K;
    EXPECT_EQ(fargmax, argmax) << s.H << "x" << s.W << " K" << s.K;
  }
}

// 2x2 stride-2 windows have a scalar and an AVX-512 path (the CPU picks the widest): the same y and argmax bit for
// bit, for plain input, ReLU'd input and batch norm + ReLU'd input, over NaNs, zeros of both signs, infinities and
// ties, on planes whose widths leave partial vectors and odd edges.
TEST(Pool2dKernel, TwoByTwoScalarAndAvx512PathsAgreeBitForBit) {
  if (!kHaveAvx512) GTEST_SKIP() << "no AVX-512 on this CPU: the scalar path is the one every test runs";
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> specials{-0.0f, 0.0f, nan, -inf, inf, 0.5f, 0.5f, -0.5f, -2.0f};
  const std::vector<ChannelAffine> affine{batchnorm2d_eval_affine(std::vector<float>{0.3f}, std::vector<float>{0.5f},
                                                                  std::vector<float>{-1.3f}, std::vector<float>{0.1f},
                                                                  1e-5f, 0),
                                          batchnorm2d_eval_affine(std::vector<float>{-0.2f}, std::vector<float>{2.0f},
                                                                  std::vector<float>{0.7f}, std::vector<float>{0.0f},
                                                                  1e-5f, 0)};
  for (const std::size_t H : {4u, 7u, 10u, 28u, 35u}) {
    const Pool2dShape s{.H = H, .W = H + 3, .K = 2, .stride = 2};
    const std::size_t planes = 4, in = planes * s.H * s.W, out = planes * s.OH() * s.OW();
    std::vector<float> x = random_floats(in, 47);
    for (std::size_t i = 0; i < in; i += 5) x[i] = specials[(i / 5) % specials.size()];
    // Windows whose maximum is a tie or two NaNs in the lower row, or a tie across the rows: the order decides.
    for (std::size_t plane = 0, w = 0; plane < planes; ++plane)
      for (std::size_t oy = 0; oy < s.OH(); ++oy)
        for (std::size_t ox = 0; ox < s.OW(); ++ox, ++w) {
          float* top = x.data() + plane * s.H * s.W + 2 * oy * s.W + 2 * ox;
          float* bottom = top + s.W;
          if (w % 4 == 1) bottom[0] = bottom[1] = 3.0f;
          if (w % 4 == 2) bottom[0] = bottom[1] = nan;
          if (w % 4 == 3) top[1] = bottom[0] = 2.5f;
        }
    for (const MaxPoolInput input : {MaxPoolInput::Plain, MaxPoolInput::Relu, MaxPoolInput::BatchNormRelu}) {
      std::vector<float> y1(out), y2(out);
      std::vector<std::uint32_t> a1(out), a2(out);
      maxpool2d_forward_on(false, input, y1, a1, x, affine, s, 0, planes);
      maxpool2d_forward_on(true, input, y2, a2, x, affine, s, 0, planes);
      EXPECT_EQ(std::memcmp(y1.data(), y2.data(), out * sizeof(float)), 0) << H << " " << static_cast<int>(input);
      EXPECT_EQ(a1, a2) << H << " " << static_cast<int>(input);
    }
  }
}

TEST(Pool2dKernel, AverageForwardAndBackwardMatchPlainLoopsAndDifferences) {
  for (const PoolCase& c : kPoolCases) {
    const Pool2dShape& s = c.s;
    const std::size_t out = c.planes * s.OH() * s.OW();
    const std::vector<float> x = random_floats(c.planes * s.H * s.W, 44), dy = random_floats(out, 45);
    std::vector<float> y(out), dx(x.size(), 9.0f);
    avgpool2d_forward(y, x, s, 0, c.planes);
    EXPECT_LT(worst_rel(y, to_float(ref_avgpool(to_double(x), c))), 1e-6);
    avgpool2d_backward(dx, dy, s, 0, c.planes);
    if (x.size() <= 200) {
      const auto g = numeric_gradient([&](const std::vector<double>& t) { return dot(ref_avgpool(t, c), dy); },
                                      to_double(x));
      EXPECT_LT(worst_rel(dx, g), 1e-5) << s.H << "x" << s.W << " K" << s.K;
    }
    std::vector<float> y2(out), dx2(x.size());
    avgpool2d_forward(y2, x, s, 1, c.planes);
    avgpool2d_forward(y2, x, s, 0, 1);
    avgpool2d_backward(dx2, dy, s, 1, c.planes);
    avgpool2d_backward(dx2, dy, s, 0, 1);
    EXPECT_EQ(y, y2);
    EXPECT_EQ(dx, dx2);
  }
}

// ---- batch normalisation ----

namespace {
struct BnCase {
  std::size_t N, C, HW;
};
const std::vector<BnCase> kBnCases = {{2, 3, 5}, {4, 2, 1}, {1, 3, 7}, {3, 5, 4}};

// Training forward in double: y = (x − mean)/sqrt(var + eps)·gamma + beta with the batch's biased variance.
std::vector<double> ref_bn_train(const std::vector<double>& x, const std::vector<double>& gamma,
                                 const std::vector<double>& beta, const BnCase& c, std::vector<double>* mean = nullptr,
                                 std::vector<double>* var = nullptr) {
  std::vector<double> y(x.size());
  const double M = static_cast<double>(c.N * c.HW);
  for (std::size_t ch = 0; ch < c.C; ++ch) {
    double mu = 0, v = 0;
    for (std::size_t n = 0; n < c.N; ++n)
      for (std::size_t i = 0; i < c.HW; ++i) mu += x[(n * c.C + ch) * c.HW + i];
    mu /= M;
    for (std::size_t n = 0; n < c.N; ++n)
      for (std::size_t i = 0; i < c.HW; ++i) v += std::pow(x[(n * c.C + ch) * c.HW + i] - mu, 2);
    v /= M;
    if (mean) mean->push_back(mu);
    if (var) var->push_back(v);
    for (std::size_t n = 0; n < c.N; ++n)
      for (std::size_t i = 0; i < c.HW; ++i) {
        const std::size_t k = (n * c.C + ch) * c.HW + i;
        y[k] = (x[k] - mu) / std::sqrt(v + 1e-5) * gamma[ch] + beta[ch];
      }
  }
  return y;
}
}  // namespace

TEST(BatchNorm2dKernel, TrainForwardAndRunningStatisticsMatchHandComputedValues) {
  // One channel, N = 2, HW = 2: values 1, 2, 3, 6 -> mean 3, biased variance 3.5, unbiased 14/3.
  {
    const std::vector<float> x{1, 2, 3, 6}, gamma{2}, beta{0.5f};
    std::vector<float> y(4), mean(1), invstd(1), rm{1.0f}, rv{2.0f};
    batchnorm2d_forward_train(y, mean, invstd, rm, rv, x, gamma, beta, 2, 1, 2, 0.1f, 1e-5f, 0, 1);
    EXPECT_FLOAT_EQ(mean[0], 3.0f);
    EXPECT_FLOAT_EQ(invstd[0], static_cast<float>(1 / std::sqrt(3.5 + 1e-5)));
    EXPECT_FLOAT_EQ(rm[0], 0.9f * 1.0f + 0.1f * 3.0f);
    EXPECT_FLOAT_EQ(rv[0], static_cast<float>(0.9 * 2.0 + 0.1 * 14.0 / 3.0));  // the UNBIASED variance
    EXPECT_FLOAT_EQ(y[3], static_cast<float>(3 / std::sqrt(3.5 + 1e-5) * 2 + 0.5));
  }
  for (const BnCase& c : kBnCases) {
    const std::vector<float> x = random_floats(c.N * c.C * c.HW, 51, -2, 3), gamma = random_floats(c.C, 52),
                             beta = random_floats(c.C, 53), rm0 = random_floats(c.C, 54),
                             rv0 = random_floats(c.C, 55, 0.5f, 2.0f);
    std::vector<float> y(x.size()), mean(c.C), invstd(c.C), rm = rm0, rv = rv0;
    batchnorm2d_forward_train(y, mean, invstd, rm, rv, x, gamma, beta, c.N, c.C, c.HW, 0.1f, 1e-5f, 0, c.C);
    std::vector<double> want_mean, want_var;
    const auto want = ref_bn_train(to_double(x), to_double(gamma), to_double(beta), c, &want_mean, &want_var);
    EXPECT_LT(worst_rel(y, to_float(want)), 1e-5);
    const double M = static_cast<double>(c.N * c.HW);
    for (std::size_t ch = 0; ch < c.C; ++ch) {
      EXPECT_NEAR(mean[ch], want_mean[ch], 1e-6);
      EXPECT_NEAR(invstd[ch], 1 / std::sqrt(want_var[ch] + 1e-5), 1e-5 / std::sqrt(want_var[ch] + 1e-5));
      EXPECT_NEAR(rm[ch], 0.9 * rm0[ch] + 0.1 * want_mean[ch], 1e-6);
      const double unbiased = M > 1 ? want_var[ch] * M / (M - 1) : want_var[ch];
      EXPECT_NEAR(rv[ch], 0.9 * rv0[ch] + 0.1 * unbiased, 1e-6);
    }
    // Channels one at a time: the same bits.
    std::vector<float> y2(x.size()), mean2(c.C), invstd2(c.C), rm2 = rm0, rv2 = rv0;
    for (std::size_t ch = c.C; ch-- > 0;)
      batchnorm2d_forward_train(y2, mean2, invstd2, rm2, rv2, x, gamma, beta, c.N, c.C, c.HW, 0.1f, 1e-5f, ch, ch + 1);
    EXPECT_EQ(y, y2);
    EXPECT_EQ(rm, rm2);
    EXPECT_EQ(rv, rv2);
    EXPECT_EQ(invstd, invstd2);
  }
}

TEST(BatchNorm2dKernel, EvalForwardUsesTheRunningStatistics) {
  const BnCase c{3, 4, 5};
  const std::vector<float> x = random_floats(c.N * c.C * c.HW, 61), gamma = random_floats(c.C, 62),
                           beta = random_floats(c.C, 63), rm = random_floats(c.C, 64),
                           rv = random_floats(c.C, 65, 0.1f, 3.0f);
  std::vector<float> y(x.size());
  batchnorm2d_forward_eval(y, x, rm, rv, gamma, beta, c.N, c.C, c.HW, 1e-5f, 0, c.C);
  std::vector<float> want(x.size());
  for (std::size_t k = 0; k < x.size(); ++k) {
    const std::size_t ch = k / c.HW % c.C;
    want[k] = static_cast<float>((x[k] - static_cast<double>(rm[ch])) / std::sqrt(rv[ch] + 1e-5) * gamma[ch] + beta[ch]);
  }
  EXPECT_LT(worst_rel(y, want), 1e-6);
}

TEST(BatchNorm2dKernel, BackwardMatchesFiniteDifferences) {
  for (const BnCase& c : kBnCases) {
    if (c.N * c.HW == 1) continue;
    const std::vector<float> x = random_floats(c.N * c.C * c.HW, 71, -1, 2), gamma = random_floats(c.C, 72),
                             beta = random_floats(c.C, 73), dy = random_floats(x.size(), 74);
    std::vector<float> y(x.size()), mean(c.C), invstd(c.C), rm(c.C), rv(c.C, 1.0f), dx(x.size(), 4.0f);
    const std::vector<float> dg0 = random_floats(c.C, 75), db0 = random_floats(c.C, 76);
    std::vector<float> dgamma = dg0, dbeta = db0;
    batchnorm2d_forward_train(y, mean, invstd, rm, rv, x, gamma, beta, c.N, c.C, c.HW, 0.1f, 1e-5f, 0, c.C);
    batchnorm2d_backward(dx, dgamma, dbeta, dy, x, mean, invstd, gamma, c.N, c.C, c.HW, 0, c.C);
    const auto X = to_double(x), G = to_double(gamma), B = to_double(beta);
    const auto gx = numeric_gradient([&](const std::vector<double>& t) { return dot(ref_bn_train(t, G, B, c), dy); }, X);
    const auto gg = numeric_gradient([&](const std::vector<double>& t) { return dot(ref_bn_train(X, t, B, c), dy); }, G);
    const auto gb = numeric_gradient([&](const std::vector<double>& t) { return dot(ref_bn_train(X, G, t, c), dy); }, B);
    EXPECT_LT(worst_rel(dx, gx), 1e-4) << c.N << "x" << c.C << "x" << c.HW;
    std::vector<float> dgamma_inc(c.C), dbeta_inc(c.C);  // accumulated onto what was there
    for (std::size_t ch = 0; ch < c.C; ++ch) {
      dgamma_inc[ch] = dgamma[ch] - dg0[ch];
      dbeta_inc[ch] = dbeta[ch] - db0[ch];
    }
    EXPECT_LT(worst_rel(dgamma_inc, gg), 1e-5);
    EXPECT_LT(worst_rel(dbeta_inc, gb), 1e-5);
    // Channels in two calls: the same bits.
    std::vector<float> dx2(x.size()), dgamma2 = dg0, dbeta2 = db0;
    batchnorm2d_backward(dx2, dgamma2, dbeta2, dy, x, mean, invstd, gamma, c.N, c.C, c.HW, 1, c.C);
    batchnorm2d_backward(dx2, dgamma2, dbeta2, dy, x, mean, invstd, gamma, c.N, c.C, c.HW, 0, 1);
    EXPECT_EQ(dx, dx2);
    EXPECT_EQ(dgamma, dgamma2);
    EXPECT_EQ(dbeta, dbeta2);
  }
}

// ---- dropout ----

TEST(DropoutKernel, KeepsAboutOneMinusPScaledAndIsAFunctionOfSeedAndIndex) {
  const std::size_t n = 100000;
  const std::vector<float> x = random_floats(n, 81, 0.5f, 1.5f);  // never 0: a zero output means dropped
  for (const float p : {0.1f, 0.25f, 0.5f, 0.9f}) {
    std::vector<float> y(n), mask(n);
    dropout_forward(y, mask, x, p, 7, 0, n);
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(mask[i] == 0.0f || mask[i] == scale);
      ASSERT_EQ(y[i], x[i] * mask[i]);
      kept += mask[i] != 0.0f;
    }
    // Binomial: the standard deviation of the kept fraction is below 0.0016 at n = 100000; allow 4 of them.
    EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, 0.0064) << "p " << p;
    // Pieces in any order: the same mask. Another seed: another mask.
    std::vector<float> y2(n), mask2(n), y3(n), mask3(n);
    dropout_forward(y2, mask2, x, p, 7, n / 3, n);
    dropout_forward(y2, mask2, x, p, 7, 0, n / 3);
    EXPECT_EQ(mask, mask2);
    EXPECT_EQ(y, y2);
    dropout_forward(y3, mask3, x, p, 8, 0, n);
    std::size_t same = 0;
    for (std::size_t i = 0; i < n; ++i) same += (mask[i] != 0) == (mask3[i] != 0);
    // Independent masks agree on a fraction p² + (1 − p)² of the elements, not on all of them.
    EXPECT_NEAR(static_cast<double>(same) / n, p * p + (1 - p) * (1 - p), 0.01) << "p " << p;
  }
  // Neighbouring elements and neighbouring seeds are not correlated: consecutive pairs kept together ~ (1 − p)².
  std::vector<float> y(n), mask(n);
  dropout_forward(y, mask, x, 0.5f, 0, 0, n);
  std::size_t both = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) both += mask[i] != 0 && mask[i + 1] != 0;
  EXPECT_NEAR(static_cast<double>(both) / (n - 1), 0.25, 0.01);
}

TEST(DropoutKernel, PZeroIsTheIdentityAndBackwardUsesTheMask) {
  const std::size_t n = 1000;
  const std::vector<float> x = random_floats(n, 91), dy = random_floats(n, 92);
  std::vector<float> y(n), mask(n), dx(n);
  dropout_forward(y, mask, x, 0.0f, 3, 0, n);
  EXPECT_EQ(y, x);
  EXPECT_EQ(mask, std::vector<float>(n, 1.0f));
  dropout_forward(y, mask, x, 0.3f, 3, 0, n);
  dropout_backward(dx, dy, mask, 0, n);
  // y is linear in x with slope mask: the derivative of Σ y·dy is dy·mask.
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(dx[i], dy[i] * mask[i]);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < n; ++i) dropped += dx[i] == 0.0f;
  EXPECT_GT(dropped, 200u);
  EXPECT_LT(dropped, 400u);
}
