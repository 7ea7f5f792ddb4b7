// PyTorch fidelity: replay each reference trajectory (../shared/reference/pytorch-sgd, or $MNIST_REFERENCE_DIR)
// over the real MNIST test images and compare every step loss, the final parameters, the validation
// probabilities (within 1e-5) and the validation accuracies (within 1/512) with what PyTorch computed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "mnist/datasets.hpp"
#include "mnist/loss.hpp"
#include "mnist/safetensors.hpp"
#include "mnist/train.hpp"
#include "support/test_support.hpp"

using namespace mnist;

namespace {
std::optional<std::filesystem::path> reference_dir() {
  if (const char* env = std::getenv("MNIST_REFERENCE_DIR")) return std::filesystem::path(env);
  if (const auto shared = mnist::testing::shared_dir()) return *shared / "reference" / "pytorch-sgd";
  return std::nullopt;
}

std::vector<std::size_t> to_indices(const std::vector<std::int64_t>& v, std::size_t from, std::size_t count) {
  std::vector<std::size_t> out;
  for (std::size_t i = from; i < from + count; ++i) out.push_back(static_cast<std::size_t>(v[i]));
  return out;
}

struct Largest {
  double value = 0;
  std::string where;
  void update(double diff, const std::string& at) {
    if (diff > value || where.empty()) value = diff, where = at;
  }
};

void check_file(const std::filesystem::path& path, const Dataset& t10k) {
  const SafetensorsFile ref = SafetensorsFile::read(path);
  const std::string model_name = ref.metadata("model");
  const double lr = std::stod(ref.metadata("lr")), momentum = std::stod(ref.metadata("momentum"));
  const std::size_t batch = std::stoul(ref.metadata("batch_size")), epochs = std::stoul(ref.metadata("epochs"));
  std::printf("%s: model %s, lr %g, momentum %g, batch %zu, %zu epochs\n", path.filename().c_str(),
              model_name.c_str(), lr, momentum, batch, epochs);

  Model model = make_model(model_name);
  load_state_dict(ref, model, "init.");
  SGD sgd(model, {.lr = lr, .momentum = momentum});

  const std::vector<std::int64_t> order = ref.to_int64("train_order");
  const Shape order_shape = ref.at("train_order").shape;
  ASSERT_EQ(order_shape.size(), 2u);
  ASSERT_EQ(order_shape[0], epochs);
  const std::size_t n_train = order_shape[1];
  const std::vector<std::int64_t> val_idx = ref.to_int64("val_indices");
  const Tensor step_loss = ref.to_tensor("step_loss"), val_accuracy = ref.to_tensor("val_accuracy");
  DataLoader val(Subset(t10k, to_indices(val_idx, 0, val_idx.size())), {.batch_size = batch});

  Largest loss_diff, acc_diff, param_diff, prob_diff;
  std::vector<float> probs(batch * model.num_classes());
  std::size_t step = 0;
  for (std::size_t e = 0; e < epochs; ++e) {
    // The epoch's order, exactly as PyTorch visited it: a subset in that order, unshuffled.
    DataLoader train(Subset(t10k, to_indices(order, e * n_train, n_train)), {.batch_size = batch});
    Batch b;
    train.start_epoch(0);
    while (train.next(b)) {
      const std::size_t C = model.num_classes();
      const double loss = cross_entropy(probs, model.forward(b.x, b.size), b.y, b.size, C);
      cross_entropy_backward(probs, probs, b.y, b.size, C);
      model.backward(std::span<const float>(probs.data(), b.size * C));
      sgd.step();
      sgd.zero_grad();
      ASSERT_LT(step, step_loss.numel()) << "more steps than the reference recorded";
      const double d = std::abs(loss - static_cast<double>(step_loss[step]));
      loss_diff.update(d, "step " + std::to_string(step));
      EXPECT_LE(d, 1e-5) << path << " step " << step << ": loss " << loss << " vs " << step_loss[step];
      ++step;
    }
    const double acc = evaluate(model, val).batch_mean_accuracy;
    const double d = std::abs(acc - static_cast<double>(val_accuracy[e]));
    acc_diff.update(d, "epoch " + std::to_string(e));
    EXPECT_LE(d, 1.0 / 512) << path << " epoch " << e << ": val accuracy " << acc << " vs " << val_accuracy[e];
  }
  EXPECT_EQ(step, step_loss.numel());

  for (const NamedParameter& p : model.named_parameters()) {
    const Tensor want = ref.to_tensor("final." + p.name);
    ASSERT_EQ(want.shape(), p.shape) << p.name;
    for (std::size_t k = 0; k < p.value.size(); ++k) {
      const double d = std::abs(static_cast<double>(p.value[k]) - want[k]);
      param_diff.update(d, p.name + "[" + std::to_string(k) + "]");
      EXPECT_LE(d, 1e-5) << path << " final." << p.name << "[" << k << "]";
    }
  }

  const Tensor want_probs = ref.to_tensor("val_probs");
  const std::size_t n_probs = want_probs.size(0);
  const std::size_t D = t10k.image_size();
  std::vector<float> x(n_probs * D);
  for (std::size_t i = 0; i < n_probs; ++i)
    for (std::size_t p = 0; p < D; ++p)
      x[i * D + p] = static_cast<float>(t10k.images()[static_cast<std::size_t>(val_idx[i]) * D + p]) / 255.0f;
  const Tensor got = model.predict_proba(x, n_probs);
  for (std::size_t k = 0; k < got.numel(); ++k) {
    const double d = std::abs(static_cast<double>(got[k]) - want_probs[k]);
    prob_diff.update(d, "[" + std::to_string(k / 10) + ", " + std::to_string(k % 10) + "]");
    EXPECT_LE(d, 1e-5) << path << " val_probs element " << k;
  }
  std::printf("  largest |difference|: step_loss %.3g (%s), final params %.3g (%s), val_probs %.3g (%s), "
              "val_accuracy %.3g (%s)\n",
              loss_diff.value, loss_diff.where.c_str(), param_diff.value, param_diff.where.c_str(), prob_diff.value,
              prob_diff.where.c_str(), acc_diff.value, acc_diff.where.c_str());
}
}  // namespace

TEST(PyTorchFidelity, EveryReferenceTrajectory) {
  const auto dir = reference_dir();
  if (!dir || !std::filesystem::is_directory(*dir))
    GTEST_SKIP() << "no reference directory (set MNIST_REFERENCE_DIR or provide ../shared/reference/pytorch-sgd)";
  const auto data = mnist::testing::mnist_test_dir();
  if (!data) GTEST_SKIP() << "the real MNIST test set (../shared/data/mnist) is absent";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(*dir))
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) GTEST_SKIP() << "no .safetensors files in " << dir->string();
  const Dataset t10k = load_dataset_dir(*data, Split::Test, "mnist");
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    check_file(f, t10k);
  }
}
