// What evaluate and predict share: their MODEL, --model and data options, reading the checkpoint given on the command
// line (with --model for a bare PyTorch file), choosing the data set it goes with, and refusing data whose image size
// or classes do not fit the model.
#pragma once
#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "common_options.hpp"
#include "mnist/checkpoint.hpp"
#include "mnist/dataset.hpp"
#include "mnist/datasets.hpp"

namespace mnist::cli {

/// The command line of a command that reads a checkpoint: MODEL, --model SPEC and the data options.
struct CheckpointOptions {
  CommonOptions common;    // .data: --dataset, --data-dir, --download, --mirror
  std::string model_path;  // MODEL
  std::string model_spec;  // --model, for a checkpoint without metadata

  // Set by add_checkpoint_options; the options belong to the command. Whether a flag was given (even if empty) is
  // what matters: without --dataset and --data-dir the data set is the checkpoint's own.
  const CLI::Option* dataset_flag = nullptr;
  const CLI::Option* data_dir_flag = nullptr;
  const CLI::Option* model_flag = nullptr;
  bool dataset_given() const { return dataset_flag->count() > 0; }
  bool data_dir_given() const { return data_dir_flag->count() > 0; }
  bool model_spec_given() const { return model_flag->count() > 0; }
};

/// Adds MODEL (the first positional argument), --model SPEC and the data options to command; call it before any other
/// positional argument. The help says that the data set defaults to the one recorded in the checkpoint.
void add_checkpoint_options(CLI::App& command, CheckpointOptions& options);

/// load_checkpoint(path, spec). A spec given with --model must parse (UsageError naming --model) and must agree with
/// the spec recorded in the file, when there is one (UsageError naming both).
Checkpoint load_model_file(const std::string& path, const std::string& model_flag);

/// The data options to use with a checkpoint: what the user gave; without --dataset or --data-dir, the data set the
/// checkpoint was trained on (UsageError asking for --data-dir when that was a custom one).
DataOptions data_options_for(const Checkpoint& checkpoint, const CheckpointOptions& options);

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
