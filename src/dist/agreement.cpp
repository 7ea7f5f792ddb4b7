// What keeps N ranks one training run: every rank must run the same program on the same settings, data and starting
// state (checked once, at start-up), and must still hold the same parameters at every epoch's end (checked there).
#include <dlfcn.h>

#include <fstream>
#include <string>
#include <vector>

#include "mnist/dist.hpp"
#include "mnist/error.hpp"
#include "mnist/nn.hpp"

namespace mnist::dist {

std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t hash) {
  for (const std::uint8_t b : bytes) hash = (hash ^ b) * 0x100000001b3ULL;
  return hash;
}

std::uint64_t hash_text(const std::string& text, std::uint64_t hash) {
  return hash_bytes({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, hash);
}

std::uint64_t hash_floats(std::span<const float> values, std::uint64_t hash) {
  return hash_bytes({reinterpret_cast<const std::uint8_t*>(values.data()), values.size_bytes()}, hash);
}

namespace {
std::uint64_t hash_file(const std::string& path, std::uint64_t hash) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return hash_text("unreadable " + path, hash);
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::size_t got = static_cast<std::size_t>(in.gcount());
    hash = hash_bytes({reinterpret_cast<const std::uint8_t*>(buffer.data()), got}, hash);
  }
  return hash;
}
}  // namespace

std::uint64_t binary_hash() {
  std::uint64_t hash = hash_file("/proc/self/exe", 0xcbf29ce484222325ULL);
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&binary_hash), &info) != 0 && info.dli_fname != nullptr)
    hash = hash_file(info.dli_fname, hash);
  return hash;
}

void check_agreement(Communicator& comm, const std::vector<Fingerprint>& mine) {
  if (comm.size() == 1) return;
  std::vector<std::uint64_t> hashes;
  for (const Fingerprint& f : mine) hashes.push_back(f.hash);
  const std::vector<std::uint64_t> all = comm.allgather(hashes);
  const std::size_t k = mine.size();
  for (std::size_t i = 0; i < k; ++i)
    for (int r = 1; r < comm.size(); ++r)
      if (all[static_cast<std::size_t>(r) * k + i] != all[i])
        throw CollectiveError("the " + std::to_string(comm.size()) + " ranks disagree on " + mine[i].what + ": rank " +
                    std::to_string(r) + "'s differs from rank 0's; every rank must run the same mnist with the same "
                    "flags on the same files");
}

void synchronise_model(Communicator& comm, const Model& model, std::span<float> buffers) {
  if (comm.size() == 1) return;
  const std::uint64_t mine[1] = {hash_floats(model.parameters())};
  const std::vector<std::uint64_t> all = comm.allgather(mine);
  for (int r = 1; r < comm.size(); ++r)
    if (all[static_cast<std::size_t>(r)] != all[0])
      throw CollectiveError("distributed training: rank " + std::to_string(r) + "'s parameters differ from rank 0's after the "
                  "same steps (the allreduce gave the ranks different sums); stopping rather than training " +
                  std::to_string(comm.size()) + " different models");
  if (!buffers.empty()) comm.broadcast(buffers, 0);
}

}  // namespace mnist::dist
