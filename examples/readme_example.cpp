// The README's "Use it from C++" program: the tutorial's ReLU model on Fashion-MNIST, in 25 lines.
#include <mnist/mnist.hpp>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) try {
  // Fashion-MNIST from data/fashion-mnist/ or Debian's /usr/share/datasets/fashion-mnist/.
  mnist::Dataset dataset = mnist::FashionMNIST("data", /*train=*/true);
  auto split = mnist::random_split(dataset, std::vector<double>{0.9, 0.1}, /*seed=*/0);

  mnist::DataLoader train_loader(split[0], {.batch_size = 128, .shuffle = true});
  mnist::DataLoader val_loader(split[1], {.batch_size = 128});

  mnist::Model model = mnist::make_model("hidden-relu");  // 784 -> 32 -> ReLU -> 10
  int epochs = argc > 1 ? std::stoi(argv[1]) : 10;
  mnist::History history = mnist::fit(epochs, /*lr=*/0.1, model, train_loader, val_loader);

  std::printf("validation accuracy: %.4f\n", history.val_history().back());
  return 0;
} catch (const mnist::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
