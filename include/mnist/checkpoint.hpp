// Checkpoints: a trained model in one safetensors file that PyTorch can read (the state dict under PyTorch's names,
// float32), with what is needed to use it again in __metadata__ (string values):
//   "format"        "mnist-checkpoint/1"
//   "model"         the spec it was built from: "logistic", "hidden", "hidden-relu" or an MLP spec ("784-128-relu-10")
//   "dataset"       "mnist", "fashion-mnist", "kmnist" or "custom"
//   "classes"       the class names as a JSON array in a string: "[\"0\", \"1\", ...]"
//   "input_shape"   "[1, 28, 28]"
//   "pixel_scaling" "x / 255"
//   and the training hyperparameters: "epochs", "lr", "batch_size", "optimizer", "momentum", "weight_decay",
//   "seed", "val_fraction" (whatever the caller passes is stored as given).
// And resume states: what training needs to continue exactly where it stopped (optimizer buffers and step count,
// epochs completed, the per-epoch history), in a second safetensors file beside the model's.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mnist/nn.hpp"
#include "mnist/optim.hpp"
#include "mnist/train.hpp"

namespace mnist {

/// The "format" value written into every checkpoint's metadata (bumped when the layout changes).
inline constexpr const char* kCheckpointFormat = "mnist-checkpoint/1";

/// A model read back from a checkpoint, with its metadata.
struct Checkpoint {
  Model model;                                  ///< the architecture from the metadata, with the file's parameters
  std::map<std::string, std::string> metadata;  ///< everything in __metadata__ (empty for a bare PyTorch file)
  std::vector<std::string> classes;             ///< from "classes"; "0".."9" (one per output) when absent
  std::string dataset;                          ///< from "dataset"; empty when absent
};

/// Writes model's parameters under PyTorch's names and metadata, adding "format" and "model" (= model.spec()),
/// atomically (a temporary file renamed over path: an existing checkpoint is never left half-written).
void save_checkpoint(const std::filesystem::path& path, Model& model,
                     const std::map<std::string, std::string>& metadata);

/// Reads a checkpoint. The architecture comes from the "model" metadata, else from model_spec_if_missing (for a
/// file of PyTorch parameters without metadata), else it is inferred from the tensors: "linear.*" is logistic
/// regression; "layer1".."layerK" an MLP, which needs model_spec_if_missing when K > 1 because a ReLU leaves no
/// tensor (hidden and hidden-relu have the same shapes) - the Error says so. The file's tensors are checked against
/// the architecture from its header, before the model is built or the tensors' bytes are read: metadata claiming a
/// model of 800 MB in a file of 31 KB costs nothing. Throws Error naming the file and the tensor for a missing,
/// extra, non-F32 or wrongly shaped tensor, Error naming the file for an invalid "model" entry or tensors that make
/// no valid model, and for a malformed "classes" entry; UsageError only for an invalid model_spec_if_missing.
Checkpoint load_checkpoint(const std::filesystem::path& path, const std::string& model_spec_if_missing = "");

/// Checks, from the header alone (without building a model or reading the tensors' bytes), that the checkpoint at
/// path holds exactly the parameters of model spec: for a spec recorded elsewhere (train --resume reads one from
/// resume.safetensors) before a model of it is built. spec_source names where spec comes from. Throws Error naming
/// spec_source when spec is not a valid spec, and Error naming path and the first mismatching tensor.
void check_checkpoint_holds(const std::filesystem::path& path, const std::string& spec, const std::string& spec_source);

/// Everything beyond the model's parameters that training needs to continue bit for bit.
struct ResumeState {
  std::size_t epochs_completed = 0;             ///< epochs 0 .. epochs_completed-1 are done
  std::vector<EpochStats> history;              ///< their records, one per completed epoch
  std::map<std::string, std::string> metadata;  ///< the run's settings (the caller's keys)
};

/// Writes the optimizer's state buffers and step count, the epochs completed and their history, and metadata,
/// atomically, as a safetensors file ("optimizer.<name>" F32 tensors, "optimizer.steps" I64 [1]).
void save_resume_state(const std::filesystem::path& path, Optimizer& optimizer, const ResumeState& state);

/// Reads a resume state written by save_resume_state, restoring the buffers and step count of optimizer, which
/// updates model. Throws Error naming the file for a buffer not sized like model's parameters, or a state written
/// by an optimizer of another kind.
ResumeState load_resume_state(const std::filesystem::path& path, const Model& model, Optimizer& optimizer);

}  // namespace mnist
