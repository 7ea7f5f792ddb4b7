// Braced-list overloads of random_split, so that calls read like the tutorial's random_split(ds, [0.9, 0.1]):
// {0.9, 0.1} picks fractions, {54000, 6000} picks counts. Each forwards to the std::vector overloads.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/loader.hpp"

namespace mnist {
namespace {

// Integer literals are ints; a negative one would wrap to a huge std::size_t, so it is rejected here by name.
std::vector<std::size_t> checked_counts(std::initializer_list<int> counts) {
  std::vector<std::size_t> out;
  out.reserve(counts.size());
  for (int c : counts) {
    if (c < 0) throw UsageError("random_split: count " + std::to_string(c) + " is negative; counts must be >= 0");
    out.push_back(static_cast<std::size_t>(c));
  }
  return out;
}

}  // namespace

std::vector<Subset> random_split(const Dataset& dataset, std::initializer_list<double> fractions, std::uint64_t seed) {
  return random_split(dataset, std::vector<double>(fractions), seed);
}

std::vector<Subset> random_split(const Dataset& dataset, std::initializer_list<int> counts, std::uint64_t seed) {
  return random_split(dataset, checked_counts(counts), seed);
}

std::vector<Subset> random_split(const Dataset& dataset, std::initializer_list<std::size_t> counts,
                                 std::uint64_t seed) {
  return random_split(dataset, std::vector<std::size_t>(counts), seed);
}

std::vector<Subset> random_split(const Subset& data, std::initializer_list<double> fractions, std::uint64_t seed) {
  return random_split(data, std::vector<double>(fractions), seed);
}

std::vector<Subset> random_split(const Subset& data, std::initializer_list<int> counts, std::uint64_t seed) {
  return random_split(data, checked_counts(counts), seed);
}

std::vector<Subset> random_split(const Subset& data, std::initializer_list<std::size_t> counts, std::uint64_t seed) {
  return random_split(data, std::vector<std::size_t>(counts), seed);
}

}  // namespace mnist
