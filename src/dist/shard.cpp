#include "mnist/dist.hpp"

namespace mnist::dist {

Shard shard_of(std::size_t batch, int rank, int ranks) {
  const std::size_t n = static_cast<std::size_t>(ranks), r = static_cast<std::size_t>(rank);
  const std::size_t base = batch / n, extra = batch % n;
  // The first `extra` ranks take base + 1 rows: rank r starts after r shares, min(r, extra) of them long.
  return {r * base + (r < extra ? r : extra), base + (r < extra ? 1 : 0)};
}

}  // namespace mnist::dist
