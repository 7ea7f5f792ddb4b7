// The peer of mnist_infer_bench: the conv presets (the modules of ../shared/reference/pytorch-cnn, as
// ../shared/peers/libtorch/cnn_bench.cpp builds them) in eval mode under NoGradGuard, forward over all test images in
// batches of 128, the argmax compared with the labels; best of REPEATS. Built and run by scripts/bench_infer.sh.
// Usage: libtorch_infer DIR_WITH_RAW_IDX [models=lenet5,cnn,cnn-bn] [threads=1] [repeats=5]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

using namespace torch::nn;

Sequential make(const std::string& name) {
  Sequential s;
  if (name == "lenet5") {
    s->push_back("conv1", Conv2d(Conv2dOptions(1, 6, 5).padding(2)));
    s->push_back("relu1", ReLU());
    s->push_back("pool1", MaxPool2d(2));
    s->push_back("conv2", Conv2d(Conv2dOptions(6, 16, 5)));
    s->push_back("relu2", ReLU());
    s->push_back("pool2", MaxPool2d(2));
    s->push_back("flatten", Flatten());
    s->push_back("fc1", Linear(400, 120));
    s->push_back("relu3", ReLU());
    s->push_back("fc2", Linear(120, 84));
    s->push_back("relu4", ReLU());
    s->push_back("fc3", Linear(84, 10));
    return s;
  }
  const bool bn = name == "cnn-bn";
  s->push_back("conv1", Conv2d(Conv2dOptions(1, 32, 3).padding(1)));
  if (bn) s->push_back("bn1", BatchNorm2d(32));
  s->push_back("relu1", ReLU());
  s->push_back("pool1", MaxPool2d(2));
  s->push_back("conv2", Conv2d(Conv2dOptions(32, 64, 3).padding(1)));
  if (bn) s->push_back("bn2", BatchNorm2d(64));
  s->push_back("relu2", ReLU());
  s->push_back("pool2", MaxPool2d(2));
  s->push_back("flatten", Flatten());
  s->push_back("fc1", Linear(3136, 128));
  s->push_back("relu3", ReLU());
  s->push_back("fc2", Linear(128, 10));
  return s;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: libtorch_infer DIR_WITH_RAW_IDX [models] [threads] [repeats]\n");
    return 2;
  }
  const std::string models = argc > 2 ? argv[2] : "lenet5,cnn,cnn-bn";
  torch::set_num_threads(argc > 3 ? std::atoi(argv[3]) : 1);
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 5;
  auto test = torch::data::datasets::MNIST(argv[1], torch::data::datasets::MNIST::Mode::kTest);
  const torch::Tensor X = test.images(), y = test.targets();
  std::stringstream list(models);
  for (std::string name; std::getline(list, name, ',');) {
    torch::manual_seed(0);
    Sequential model = make(name);
    model->eval();
    double best = 1e300, accuracy = 0;
    for (int rep = 0; rep < repeats; ++rep) {
      torch::NoGradGuard no_grad;
      const auto t0 = std::chrono::steady_clock::now();
      int64_t correct = 0;
      for (int64_t i = 0; i < X.size(0); i += 128) {
        const int64_t j = std::min<int64_t>(i + 128, X.size(0));
        correct += model->forward(X.slice(0, i, j)).argmax(1).eq(y.slice(0, i, j)).sum().item<int64_t>();
      }
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      accuracy = static_cast<double>(correct) / static_cast<double>(X.size(0));
    }
    std::printf("%-8s threads=%d seconds=%.4f images/s=%.0f accuracy=%.4f\n", name.c_str(), torch::get_num_threads(),
                best, static_cast<double>(X.size(0)) / best, accuracy);
    std::fflush(stdout);
  }
}
