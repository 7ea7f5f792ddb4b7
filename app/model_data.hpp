// What evaluate and predict share: reading a checkpoint given on the command line (with --model for a bare PyTorch
// file), choosing the data set it goes with, and refusing data whose image size or classes do not fit the model.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "mnist/checkpoint.hpp"
#include "mnist/dataset.hpp"
#include "mnist/datasets.hpp"

namespace mnist::cli {

/// load_checkpoint(path, spec). A spec given with --model must parse (UsageError naming --model) and must agree with
/// the spec recorded in the file, when there is one (UsageError naming both).
Checkpoint load_model_file(const std::string& path, const std::string& model_flag);

/// The data options to use with a checkpoint: what the user gave; without --dataset or --data-dir, the data set the
/// checkpoint was trained on (UsageError asking for --data-dir when that was a custom one).
DataOptions data_options_for(const Checkpoint& checkpoint, const std::string& model_path, DataOptions given,
                             bool dataset_given, bool data_dir_given);

/// Error naming the checkpoint and the data when the model's input size differs from the images' size or a label is
/// not one of the model's outputs.
void check_model_fits(const Checkpoint& checkpoint, const std::string& model_path, const Dataset& data);

/// The image size the model takes: "input_shape" [1, H, W] (or [H, W]) from the metadata; else a square of the
/// input size (28x28 for 784 inputs). Error naming the file when the input size is no square and no shape is recorded.
struct ImageShape {
  std::size_t rows = 0, cols = 0;
};
ImageShape model_image_shape(const Checkpoint& checkpoint, const std::string& model_path);

/// "7" for a class whose name is its number (MNIST, custom data), "7 Sneaker" otherwise.
std::string class_label(const std::vector<std::string>& classes, std::size_t c);
/// The name alone ("Sneaker", or "7").
std::string class_name(const std::vector<std::string>& classes, std::size_t c);

}  // namespace mnist::cli
