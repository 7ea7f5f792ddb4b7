// The classic PyTorch tutorial (logistic regression, then a hidden layer, then ReLU, on MNIST) step by step with
// the mnist library's public API, printing the same sequence of results and saving the same figures.
//
//   tutorial [--dataset mnist|fashion-mnist|kmnist] [--data-dir DIR] [--download] [--out DIR]
//            [--epochs E] [--limit N] [--seed S]
//
// --limit N trains and validates on the first N training images only (a quick run); --out is where the figures go.
#include <mnist/mnist.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "example_args.hpp"

namespace {

using Args = example::CommonArgs;  // --dataset, --data-dir, --download, --out, --epochs, --limit, --seed

Args parse_args(int argc, char** argv) {
  Args args;
  args.epochs = 10;
  args.out = "tutorial-figures";
  example::parse_args(argc, argv,
                      "usage: tutorial [--dataset NAME] [--data-dir DIR] [--download] [--out DIR] [--epochs E] "
                      "[--limit N] [--seed S]",
                      args);
  return args;
}

std::string label_name(const mnist::Dataset& dataset, int label) {
  return std::to_string(label) + " (" + dataset.classes().at(static_cast<std::size_t>(label)) + ")";
}

std::vector<double> epoch_numbers(std::size_t n) {
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<double>(i + 1);
  return x;
}

// "Training the model" + "Prediction" of the tutorial, for one model: fit, plot the histories, then look at the
// first validation image through the trained model. Returns the last epoch's validation accuracy.
double train_and_predict(const std::string& spec, const mnist::Dataset& dataset, mnist::DataLoader& train_loader,
                         mnist::DataLoader& val_loader, const mnist::Subset& val_ds, const Args& args) {
  std::printf("\n== Model '%s'\n", spec.c_str());
  // model = MnistModel(): PyTorch's default initialisation, seeded.
  mnist::Model model = mnist::make_model(spec, args.seed);
  for (const auto& [name, shape] : model.parameter_shapes())
    std::printf("%s %s\n", name.c_str(), mnist::shape_string(shape).c_str());

  // Before training: outputs = model(images) for the first batch, then F.cross_entropy and accuracy.
  {
    mnist::Batch batch;
    train_loader.start_epoch(0);
    train_loader.next(batch);
    const std::span<const float> logits = model.forward(batch.x, batch.size);
    std::vector<float> probs(logits.size());
    const double loss = mnist::cross_entropy(probs, logits, batch.y, batch.size, model.num_classes());
    const std::vector<std::int32_t> predicted = model.predict(batch.x, batch.size);
    std::printf("first batch: outputs [%zu, %zu], loss %.4f, accuracy %.4f (untrained)\n", batch.size,
                model.num_classes(), loss, mnist::accuracy(batch.y, predicted));
  }

  // fit(epochs, lr, model, train_loader, val_loader): SGD at lr 0.1, validation accuracy after each epoch.
  mnist::SGD optimizer(model, {.lr = 0.1});
  mnist::FitOptions options;
  options.epochs = args.epochs;
  options.on_epoch = [](mnist::EpochEvent& event) {
    std::printf("Epoch [%zu/%zu], loss: %.4f, val_loss: %.4f, val_acc: %.4f\n", event.stats->epoch + 1, event.epochs,
                event.stats->train_loss, event.stats->val_loss, event.stats->val_accuracy);
    std::fflush(stdout);
  };
  const mnist::History history = mnist::fit(model, train_loader, val_loader, optimizer, options);

  // plt.plot(loss_history); plt.plot(val_history)
  const std::vector<double> epochs = epoch_numbers(history.epochs.size());
  const std::filesystem::path loss_png = args.out / (spec + "-loss.png");
  const std::filesystem::path acc_png = args.out / (spec + "-accuracy.png");
  mnist::plot_lines(loss_png, {.title = "Loss vs. No. of epochs (" + spec + ")", .x_label = "epoch",
                               .y_label = "loss", .series = {{spec, epochs, history.loss_history()}}});
  mnist::plot_lines(acc_png, {.title = "Accuracy vs. No. of epochs (" + spec + ")", .x_label = "epoch",
                              .y_label = "validation accuracy", .series = {{spec, epochs, history.val_history()}}});
  std::printf("figures: %s %s\n", loss_png.string().c_str(), acc_png.string().c_str());

  // img, label = val_ds[0]; out = model(img.unsqueeze(0)); probs = softmax(out); pred = argmax(probs)
  const std::size_t index = val_ds.indices.at(0);
  const mnist::Tensor img = dataset.to_tensor(index);
  const int label = dataset[index].label;
  const std::span<const float> out = model.forward(img.span(), 1);
  std::printf("output shape: [1, %zu]\n", out.size());
  const mnist::Tensor probs = model.predict_proba(img.span(), 1);
  std::printf("probabilities:");
  for (float p : probs.span()) std::printf(" %.4f", static_cast<double>(p));
  std::printf("\n");
  const int predicted = model.predict(img.span(), 1).at(0);
  std::printf("Label: %s, Predicted: %s\n", label_name(dataset, label).c_str(),
              label_name(dataset, predicted).c_str());
  const std::filesystem::path val_png = args.out / (spec + "-val0.png");
  mnist::plot_image(val_png, dataset[index].image, dataset.rows(), dataset.cols(),
                    "Label: " + label_name(dataset, label) + ", Predicted: " + label_name(dataset, predicted));
  std::printf("figure: %s\n", val_png.string().c_str());
  return history.epochs.back().val_accuracy;
}

int run(const Args& args) {
  // Step 1. dataset = MNIST(root='data/', download=True); test_dataset = MNIST(root='data/', train=False)
  const mnist::Dataset dataset = mnist::load_dataset(args.data, mnist::Split::Train);
  const mnist::Dataset test_dataset = mnist::load_dataset(args.data, mnist::Split::Test);
  std::printf("%s\n%s\n", dataset.summary().c_str(), test_dataset.summary().c_str());
  std::printf("len(dataset) = %zu, len(test_dataset) = %zu\n", dataset.size(), test_dataset.size());

  std::filesystem::create_directories(args.out);

  // Step 2. image, label = dataset[0]; plt.imshow(image, cmap='gray'); print('Label:', label)
  const mnist::Sample first = dataset[0];
  std::printf("\nLabel: %s\n", label_name(dataset, first.label).c_str());
  const std::filesystem::path image_png = args.out / "image0.png";
  mnist::plot_image(image_png, first.image, dataset.rows(), dataset.cols(), "Label: " + label_name(dataset, first.label));
  std::printf("figure: %s\n", image_png.string().c_str());

  // Step 3. transform=transforms.ToTensor(): img_tensor, label = dataset[0]; print(img_tensor.shape, label)
  const mnist::Tensor img_tensor = dataset.to_tensor(0);
  std::printf("%s %d\n", mnist::shape_string(img_tensor.shape()).c_str(), first.label);
  const auto [lo, hi] = std::minmax_element(img_tensor.span().begin(), img_tensor.span().end());
  std::printf("min %.4f, max %.4f\n", static_cast<double>(*lo), static_cast<double>(*hi));

  // Step 4. train_ds, val_ds = random_split(dataset, [0.9, 0.1])  (--limit: of the first N images only)
  const mnist::Subset all = args.limit ? mnist::Subset::first(dataset, args.limit) : mnist::Subset(dataset);
  const std::vector<mnist::Subset> parts = mnist::random_split(all, std::vector<double>{0.9, 0.1}, args.seed);
  const mnist::Subset& train_ds = parts[0];
  const mnist::Subset& val_ds = parts[1];
  std::printf("\nlen(train_ds) = %zu, len(val_ds) = %zu\n", train_ds.size(), val_ds.size());

  // Step 5. train_loader = DataLoader(train_ds, 128, shuffle=True); val_loader = DataLoader(val_ds, 128)
  mnist::DataLoader train_loader(train_ds, {.batch_size = 128, .shuffle = true, .seed = args.seed});
  mnist::DataLoader val_loader(val_ds, {.batch_size = 128});
  std::printf("train batches %zu, val batches %zu (batch size 128)\n", train_loader.num_batches(),
              val_loader.num_batches());

  // Steps 6-8. The three models of the tutorial: logistic regression, one hidden layer, the hidden layer with ReLU.
  std::vector<std::pair<std::string, double>> results;
  for (const std::string spec : {"logistic", "hidden", "hidden-relu"})
    results.emplace_back(spec, train_and_predict(spec, dataset, train_loader, val_loader, val_ds, args));

  // Step 9. The ReLU figure: relu(x) = max(0, x).
  mnist::Series relu{"relu(x)", {}, {}};
  for (int i = -40; i <= 40; ++i) {
    relu.x.push_back(i / 10.0);
    relu.y.push_back(std::max(0.0, i / 10.0));
  }
  const std::filesystem::path relu_png = args.out / "relu.png";
  mnist::plot_lines(relu_png, {.title = "ReLU", .x_label = "x", .y_label = "relu(x)", .series = {relu},
                               .integer_x = false});
  std::printf("\nfigure: %s\n", relu_png.string().c_str());

  std::printf("\nfinal validation accuracy after %zu epochs:\n", args.epochs);
  for (const auto& [spec, acc] : results) std::printf("  %-12s %.4f\n", spec.c_str(), acc);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::run_main("tutorial", [&] { return run(parse_args(argc, argv)); });
}
