// PyTorch fidelity: replay each reference trajectory (../shared/reference/pytorch-sgd and pytorch-cnn, or every
// file of $MNIST_REFERENCE_DIR) over the real MNIST test images with the file's optimizer (SGD with momentum,
// Nesterov and weight decay, or Adam) and compare every step loss, every final state-dict entry (parameters and
// BatchNorm's buffers; num_batches_tracked exactly), the validation probabilities and the validation accuracies
// (within 1/512) with what PyTorch computed. Tolerance: 1e-5, or for files that record how far float64 moves the
// run (f64_step_loss_diff, f64_param_diff), max(1e-5, 10 x that).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "mnist/datasets.hpp"
#include "mnist/loss.hpp"
#include "mnist/safetensors.hpp"
#include "mnist/train.hpp"
#include "support/test_support.hpp"

using namespace mnist;

namespace {
std::optional<std::filesystem::path> reference_dir(const char* name) {
  if (const char* env = std::getenv("MNIST_REFERENCE_DIR")) return std::filesystem::path(env);
  if (const auto shared = mnist::testing::shared_dir()) return *shared / "reference" / name;
  return std::nullopt;
}

std::string meta_or(const SafetensorsFile& f, const std::string& key, const std::string& fallback) {
  return f.metadata().count(key) ? f.metadata(key) : fallback;
}

// The optimizer the reference file was made with, as torch.optim takes its arguments.
std::unique_ptr<Optimizer> optimizer_of(const SafetensorsFile& ref, Model& model, std::string& described) {
  const double lr = std::stod(ref.metadata("lr"));
  const double weight_decay = std::stod(meta_or(ref, "weight_decay", "0"));
  if (meta_or(ref, "optimizer", "sgd") == "adam") {
    const std::string betas = meta_or(ref, "betas", "0.9,0.999");
    const double b1 = std::stod(betas.substr(0, betas.find(','))), b2 = std::stod(betas.substr(betas.find(',') + 1));
    const double eps = std::stod(meta_or(ref, "eps", "1e-8"));
    described = "adam lr " + ref.metadata("lr") + " betas " + betas + " eps " + meta_or(ref, "eps", "1e-8") +
                " weight_decay " + meta_or(ref, "weight_decay", "0");
    return std::make_unique<Adam>(model, AdamOptions{.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps,
                                                     .weight_decay = weight_decay});
  }
  const double momentum = std::stod(meta_or(ref, "momentum", "0"));
  const bool nesterov = meta_or(ref, "nesterov", "0") == "1";
  described = "sgd lr " + ref.metadata("lr") + " momentum " + meta_or(ref, "momentum", "0") + " weight_decay " +
              meta_or(ref, "weight_decay", "0") + (nesterov ? " nesterov" : "");
  return std::make_unique<SGD>(model, SgdOptions{.lr = lr, .momentum = momentum, .weight_decay = weight_decay,
                                                 .nesterov = nesterov});
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
  const std::size_t batch = std::stoul(ref.metadata("batch_size")), epochs = std::stoul(ref.metadata("epochs"));
  const double loss_tol = std::max(1e-5, 10 * std::stod(meta_or(ref, "f64_step_loss_diff", "0")));
  const double param_tol = std::max(1e-5, 10 * std::stod(meta_or(ref, "f64_param_diff", "0")));

  Model model = make_model(model_name);
  load_state_dict(ref, model, "init.");
  std::string optimizer_text;
  const std::unique_ptr<Optimizer> optimizer = optimizer_of(ref, model, optimizer_text);
  std::printf("%s: model %s, %s, batch %zu, %zu epochs, tolerance %.3g (loss) / %.3g (state)\n",
              path.filename().c_str(), model_name.c_str(), optimizer_text.c_str(), batch, epochs, loss_tol, param_tol);

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
      optimizer->step();
      optimizer->zero_grad();
      ASSERT_LT(step, step_loss.numel()) << "more steps than the reference recorded";
      const double d = std::abs(loss - static_cast<double>(step_loss[step]));
      loss_diff.update(d, "step " + std::to_string(step));
      if (std::getenv("MNIST_FIDELITY_TRACE")) std::printf("step %zu diff %.3g\n", step, d);
      EXPECT_LE(d, loss_tol) << path << " step " << step << ": loss " << loss << " vs " << step_loss[step];
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
      EXPECT_LE(d, param_tol) << path << " final." << p.name << "[" << k << "]";
    }
  }
  for (const NamedBuffer& b : model.named_buffers()) {
    if (!b.count.empty()) {
      EXPECT_EQ(b.count[0], ref.to_int64("final." + b.name).at(0)) << path << " final." << b.name;
      continue;
    }
    const Tensor want = ref.to_tensor("final." + b.name);
    ASSERT_EQ(want.shape(), b.shape) << b.name;
    for (std::size_t k = 0; k < b.value.size(); ++k) {
      const double d = std::abs(static_cast<double>(b.value[k]) - want[k]);
      param_diff.update(d, b.name + "[" + std::to_string(k) + "]");
      EXPECT_LE(d, param_tol) << path << " final." << b.name << "[" << k << "]";
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
    EXPECT_LE(d, param_tol) << path << " val_probs element " << k;
  }
  std::printf("  largest |difference|: step_loss %.3g (%s), final params %.3g (%s), val_probs %.3g (%s), "
              "val_accuracy %.3g (%s)\n",
              loss_diff.value, loss_diff.where.c_str(), param_diff.value, param_diff.where.c_str(), prob_diff.value,
              prob_diff.where.c_str(), acc_diff.value, acc_diff.where.c_str());
}

void check_directory(const char* name) {
  const auto dir = reference_dir(name);
  if (!dir || !std::filesystem::is_directory(*dir))
    GTEST_SKIP() << "no reference directory (set MNIST_REFERENCE_DIR or provide ../shared/reference/" << name << ")";
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
}  // namespace

// With MNIST_REFERENCE_DIR set, both tests replay that one directory (MLP and CNN files alike).
TEST(PyTorchFidelity, EveryMlpReferenceTrajectory) { check_directory("pytorch-sgd"); }
TEST(PyTorchFidelity, EveryCnnReferenceTrajectory) {
  if (std::getenv("MNIST_REFERENCE_DIR")) GTEST_SKIP() << "MNIST_REFERENCE_DIR: replayed by the MLP test";
  check_directory("pytorch-cnn");
}
