// safetensors files (https://github.com/huggingface/safetensors): the reference trajectories' format and the
// project's checkpoint format. Layout: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}},
// then the tensor bytes (little-endian), offsets relative to the end of the header.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "mnist/nn.hpp"
#include "mnist/tensor.hpp"

namespace mnist {

enum class DType { F32, F64, I32, I64, U8 };
std::string to_string(DType dtype);     // "F32", ...
std::size_t dtype_size(DType dtype);    // bytes per element

struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::size_t begin = 0, end = 0;  // byte offsets into the data section
};

/// A parsed, validated safetensors file held in memory.
class SafetensorsFile {
 public:
  /// Parses and validates bytes (the fuzzing entry point). source names the file in error messages.
  /// Throws Error for: a header length beyond 100 MB or the buffer, invalid JSON, a non-object entry, an unknown
  /// dtype, a bad shape or data_offsets, a size that is not product(shape) × dtype size, duplicate names, offsets
  /// that overlap, leave gaps or do not end at the end of the file, and non-string metadata.
  static SafetensorsFile parse(std::vector<std::uint8_t> bytes, const std::string& source);
  /// Reads and parses a file (Error naming it when it cannot be read or is invalid).
  static SafetensorsFile read(const std::filesystem::path& path);

  const std::string& source() const { return source_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Metadata value, or Error naming the file and key when absent.
  const std::string& metadata(const std::string& key) const;
  /// Entries in data order.
  const std::vector<TensorEntry>& tensors() const { return entries_; }
  bool contains(const std::string& name) const;
  /// Entry by name; Error naming the file and tensor when absent.
  const TensorEntry& at(const std::string& name) const;
  /// The raw little-endian bytes of a tensor.
  std::span<const std::uint8_t> raw(const std::string& name) const;
  /// A tensor as float32 (F32 exactly; F64, I32, I64, U8 converted).
  Tensor to_tensor(const std::string& name) const;
  /// An integer tensor as int64 (I64, I32, U8); Error for floating dtypes.
  std::vector<std::int64_t> to_int64(const std::string& name) const;

 private:
  std::string source_;
  std::vector<std::uint8_t> bytes_;
  std::size_t data_start_ = 0;
  std::vector<TensorEntry> entries_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// Builds a safetensors file: add tensors (in the order they are stored), set metadata, then save.
class SafetensorsWriter {
 public:
  void add(const std::string& name, const Shape& shape, std::span<const float> values);         // F32
  void add(const std::string& name, const Shape& shape, std::span<const std::int64_t> values);  // I64
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  /// The whole file (header padded with spaces to a multiple of 8).
  std::vector<std::uint8_t> bytes() const;
  /// Writes the file atomically (nothing half-written on failure).
  void save(const std::filesystem::path& path) const;

 private:
  struct Item {
    std::string name;
    DType dtype;
    Shape shape;
    std::vector<std::uint8_t> data;
  };
  void add_raw(const std::string& name, DType dtype, const Shape& shape, const void* data, std::size_t count);
  std::vector<Item> items_;
  std::map<std::string, std::string> metadata_;
};

/// Saves model's parameters with PyTorch's names ("layer1.weight", ...), and metadata plus "model" = model.spec().
void save_state_dict(const std::filesystem::path& path, Model& model,
                     const std::map<std::string, std::string>& metadata = {});
/// Loads the tensors named prefix + parameter name into model. Throws Error naming the file and tensor for a
/// missing tensor, a wrong shape or dtype, or (among names starting with prefix) a tensor the model does not have.
void load_state_dict(const SafetensorsFile& file, Model& model, const std::string& prefix = "");
void load_state_dict(const std::filesystem::path& path, Model& model);

}  // namespace mnist
