// Beyond the tutorial: a deeper network trained with Adam, then evaluated once on the held-out test set, with
// per-class accuracy, a confusion matrix figure and a checkpoint PyTorch can load (safetensors).
//
//   custom_mlp [--dataset NAME] [--data-dir DIR] [--download] [--model SPEC] [--epochs E] [--lr LR]
//              [--limit N] [--seed S] [--out DIR]
//
// SPEC is any MLP: widths joined by '-', "relu" after a width for a ReLU there (default 784-256-relu-128-relu-10).
#include <mnist/mnist.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "example_args.hpp"

namespace {

// --dataset, --data-dir, --download, --epochs, --limit, --seed, --out (the confusion matrix and checkpoint go there
// when given), and this example's own --model and --lr.
struct Args : example::CommonArgs {
  std::string model = "784-256-relu-128-relu-10";
  double lr = 1e-3;
};

Args parse_args(int argc, char** argv) {
  Args args;
  args.epochs = 5;
  example::parse_args(argc, argv,
                      "usage: custom_mlp [--dataset NAME] [--data-dir DIR] [--download] [--model SPEC] [--epochs E] "
                      "[--lr LR] [--limit N] [--seed S] [--out DIR]",
                      args, [&](const std::string& flag, const example::FlagValue& value) {
                        if (flag == "--model") args.model = value();
                        else if (flag == "--lr") args.lr = example::parse_positive(flag, value());
                        else return false;
                        return true;
                      });
  return args;
}

int run(const Args& args) {
  const mnist::Dataset train_set = mnist::load_dataset(args.data, mnist::Split::Train);
  const mnist::Dataset test_set = mnist::load_dataset(args.data, mnist::Split::Test);

  // 90/10 split of the training images (of the first N with --limit); the test set is used once, at the end.
  const mnist::Subset all = args.limit ? mnist::Subset::first(train_set, args.limit) : mnist::Subset(train_set);
  const std::vector<mnist::Subset> parts = mnist::random_split(all, std::vector<double>{0.9, 0.1}, args.seed);
  mnist::DataLoader train_loader(parts[0], {.batch_size = 128, .shuffle = true, .seed = args.seed});
  mnist::DataLoader val_loader(parts[1], {.batch_size = 1000});
  const mnist::Subset test_part = args.limit ? mnist::Subset::first(test_set, args.limit) : mnist::Subset(test_set);
  mnist::DataLoader test_loader(test_part, {.batch_size = 1000});

  mnist::Model model = mnist::make_model(args.model, args.seed);
  std::size_t parameters = model.parameters().size();
  std::printf("model %s: %zu parameters; train %zu, val %zu, test %zu images\n", model.spec().c_str(), parameters,
              parts[0].size(), parts[1].size(), test_part.size());

  mnist::Adam optimizer(model, {.lr = args.lr});
  mnist::FitOptions options;
  options.epochs = args.epochs;
  options.on_epoch = [](mnist::EpochEvent& event) {
    const mnist::EpochStats& s = *event.stats;
    std::printf("epoch %zu/%zu  loss %.4f  val_loss %.4f  val_acc %.4f  (%.1f s)\n", s.epoch + 1, event.epochs,
                s.train_loss, s.val_loss, static_cast<double>(s.val_correct) / static_cast<double>(s.val_total),
                s.seconds);
    std::fflush(stdout);
  };
  mnist::fit(model, train_loader, val_loader, optimizer, options);

  // The test set, once: overall and per-class accuracy, and the confusion matrix.
  const mnist::EvalResult test = mnist::evaluate(model, test_loader);
  std::printf("test: loss %.4f, accuracy %.4f (%zu/%zu)\n", test.loss, test.accuracy, test.correct, test.total);
  const std::vector<std::string>& classes = test_set.classes();
  std::vector<std::vector<double>> confusion(classes.size(), std::vector<double>(classes.size(), 0.0));
  for (std::size_t i = 0; i < test.labels.size(); ++i)
    confusion[static_cast<std::size_t>(test.labels[i])][static_cast<std::size_t>(test.predictions[i])] += 1.0;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    double total = 0;
    for (double n : confusion[c]) total += n;
    if (total > 0) std::printf("  %-12s %.4f\n", classes[c].c_str(), confusion[c][c] / total);
  }

  if (!args.out.empty()) {
    std::filesystem::create_directories(args.out);
    const std::filesystem::path matrix_png = args.out / "confusion.png";
    const std::filesystem::path checkpoint = args.out / "model.safetensors";
    mnist::plot_heatmap(matrix_png, confusion, classes, "Test set: " + model.spec());
    mnist::save_state_dict(checkpoint, model, {{"optimizer", "adam"}, {"epochs", std::to_string(args.epochs)}});
    std::printf("wrote %s and %s\n", matrix_png.string().c_str(), checkpoint.string().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::run_main("custom_mlp", [&] { return run(parse_args(argc, argv)); });
}
