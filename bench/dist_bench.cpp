// Data-parallel training's cost per step, measured: run as `mpirun -np N mnist_dist_bench [steps]` (one process:
// N = 1). Per model, every rank times its share of a 128-image batch's compute (forward, loss gradient, backward)
// and the allreduce of the gradients (MPI_Allreduce over the model's flat float buffer); rank 0 prints the slowest
// rank's mean per step. BatchNorm's statistics are summed across the ranks inside the compute (cnn-bn: its three
// small allreduces per BatchNorm layer count as compute).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mnist/dist.hpp"
#include "mnist/loss.hpp"
#include "mnist/nn.hpp"

using namespace mnist;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The slowest rank's value (a step takes as long as its slowest rank): allgather of nanoseconds.
double slowest(dist::Communicator& comm, double seconds) {
  const std::uint64_t mine[1] = {static_cast<std::uint64_t>(seconds * 1e9)};
  const std::vector<std::uint64_t> all = comm.allgather(mine);
  return static_cast<double>(*std::max_element(all.begin(), all.end())) / 1e9;
}

struct Row {
  std::string model;
  std::size_t parameters;
  double compute, allreduce;  // seconds per step
};

Row measure_model(dist::Communicator& comm, const std::string& spec, int steps) {
  Model model = make_model(spec, 1);
  if (comm.size() > 1) model.set_cross_process_sum([&comm](std::span<double> v) { comm.allreduce_sum(v); });
  const std::size_t batch = 128, in = model.input_size(), C = model.num_classes();
  const dist::Shard s = dist::shard_of(batch, comm.rank(), comm.size());
  std::vector<float> x(s.count * in), dlogits(s.count * C);
  std::vector<std::int32_t> y(s.count);
  std::mt19937 gen(static_cast<unsigned>(comm.rank()));
  for (float& v : x) v = static_cast<float>(gen() % 256) / 255.0f;
  for (std::int32_t& v : y) v = static_cast<std::int32_t>(gen() % C);
  double compute = 0, reduce = 0;
  for (int step = -3; step < steps; ++step) {  // 3 warm-up steps
    comm.barrier();
    auto t = Clock::now();
    const std::span<const float> logits = model.forward(x, s.count);
    cross_entropy_with_grad(dlogits, logits, y, s.count, C);
    model.backward(dlogits);
    const double c = seconds_since(t);
    t = Clock::now();
    comm.allreduce_sum(model.gradients());
    const double r = seconds_since(t);
    model.zero_grad();
    if (step >= 0) compute += c, reduce += r;
  }
  return {spec, model.parameters().size(), slowest(comm, compute) / steps, slowest(comm, reduce) / steps};
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  set_num_threads(1);  // one thread per rank: ranks, not threads, share the cores here
  dist::Communicator& comm = dist::world();
  std::vector<Row> rows;
  for (const char* spec : {"logistic", "hidden-relu", "784-256-relu-128-relu-10", "lenet5", "cnn", "cnn-bn"})
    rows.push_back(measure_model(comm, spec, steps));
  if (comm.rank() != 0) return 0;
  fmt::print("N = {} ranks, batch 128 ({} to {} images per rank), {} steps, 1 thread per rank\n", comm.size(),
             dist::shard_of(128, comm.size() - 1, comm.size()).count, dist::shard_of(128, 0, comm.size()).count,
             steps);
  fmt::print("{:<26} {:>10} {:>14} {:>16} {:>18}\n", "model", "parameters", "bytes/step", "compute ms/step",
             "allreduce ms/step");
  for (const Row& r : rows)
    fmt::print("{:<26} {:>10} {:>14} {:>16} {:>18.3f}\n", r.model, r.parameters, r.parameters * 4,
               fmt::format("{:.3f}", r.compute * 1e3), r.allreduce * 1e3);
  return 0;
}
