// The broadcast-FMA product behind the convolution kernels: C [M, J] = init + A [M, K] · B [K, J], every element
// one FMA chain over k = 0 .. K−1 in order, c = fma(A[i, k], B[k, j], c). The AVX-512, AVX2 and scalar paths
// compute the same chains, so the bits depend neither on the CPU's vector width nor on which rows or columns a
// caller hands over in one call (an element's chain never looks at its neighbours).
#pragma once
#include <cstddef>

namespace mnist::kernels {

struct TileProduct {
  enum class Init { Zero, Rows, Accumulate };  ///< chains start at 0, at row_init[i], or at C's current value
  float* c;                                    ///< C [M, J], rows ldc apart
  std::size_t ldc;
  const float* a;             ///< A[i, k] = a[i·a_row + k·a_k] (any strides: A may be read transposed)
  std::size_t a_row, a_k;
  const std::size_t* a_rows = nullptr;  ///< when set (with a_cols), A[i, k] = a[a_rows[i] + a_cols[k]] (a_row and
  const std::size_t* a_cols = nullptr;  ///< a_k unused): the columns of an implicit im2col read as A, row (c, ky,
                                        ///< kx) at its window's corner, column (oy, ox) at its offset in the plane
  const float* b;             ///< B [K, J], rows ldb apart (0: the same row K times)
  std::size_t ldb;
  const std::size_t* b_rows = nullptr;  ///< when set, row k of B starts at b + b_rows[k] (ldb unused): the rows
                                        ///< of an implicit im2col, each a shifted window of the input plane
  std::size_t M, J, K;
  Init init = Init::Zero;
  const float* row_init = nullptr;  ///< [M], for Init::Rows
};

/// Runs the product on the widest vector path the CPU has.
void tile_product(const TileProduct& p);

/// One path alone, for the tests that compare them bit for bit (the caller checks the CPU has it: kernels/cpu.hpp).
enum class TilePath { Scalar, Avx2, Avx512 };
void tile_product_on(TilePath path, const TileProduct& p);

}  // namespace mnist::kernels
