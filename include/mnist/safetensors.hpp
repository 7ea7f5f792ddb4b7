// safetensors files (https://github.com/huggingface/safetensors): the reference trajectories' format and the
// project's checkpoint format. Layout: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}},
// then the tensor bytes (little-endian), offsets relative to the end of the header.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mnist/nn.hpp"
#include "mnist/tensor.hpp"

namespace mnist {

/// Element types a safetensors file may hold here (the dtype strings of its header).
enum class DType {
  F32,  ///< float32
  F64,  ///< float64
  I32,  ///< int32
  I64,  ///< int64
  U8    ///< uint8
};
/// The header spelling: "F32", "F64", "I32", "I64", "U8".
std::string to_string(DType dtype);
/// Bytes per element: 4, 8, 4, 8, 1.
std::size_t dtype_size(DType dtype);

/// One tensor's header entry: where its bytes are and how to read them.
struct TensorEntry {
  std::string name;          ///< key in the header, e.g. "layer1.weight"
  DType dtype = DType::F32;  ///< element type
  Shape shape;               ///< dimensions, outermost first ({} for a scalar)
  std::size_t begin = 0;     ///< first byte, offset into the data section
  std::size_t end = 0;       ///< one past the last byte; end - begin == numel(shape) * dtype_size(dtype)
};

/// A parsed, validated safetensors file held in memory.
class SafetensorsFile {
 public:
  /// Called by read() with the parsed header (tensor entries and metadata, no tensor bytes yet: raw() and
  /// to_tensor() throw); it may throw to refuse the file before its data is read.
  using HeaderCheck = std::function<void(const SafetensorsFile& header)>;

  /// Parses and validates bytes (the fuzzing entry point). source names the file in error messages.
  /// Throws Error for: a header length beyond 100 MB or the buffer ("not a safetensors file"), invalid JSON, a
  /// non-object entry, an unknown dtype, a bad shape or data_offsets, a size that is not product(shape) × dtype
  /// size, duplicate names, offsets that overlap, leave gaps or do not end at the end of the file, and non-string
  /// metadata.
  static SafetensorsFile parse(std::vector<std::uint8_t> bytes, const std::string& source);
  /// Reads and parses a file (Error naming it when it cannot be read or is invalid, as parse). Piece by piece: the
  /// 8-byte header length is checked against the file's size before the header is read, and the header is
  /// validated (and given to check_header) before the tensors' bytes are read, so that a file that is not
  /// safetensors costs 8 bytes of reading whatever its size.
  static SafetensorsFile read(const std::filesystem::path& path, const HeaderCheck& check_header = {});
  /// Reads and validates only the header of a file (as read does), not the tensors' bytes: raw(), to_tensor() and
  /// to_int64() of the result throw Error. For looking at what a file holds before reading or allocating for it.
  static SafetensorsFile read_header(const std::filesystem::path& path);

  /// The name used in error messages (the path for read(), the source given to parse()).
  const std::string& source() const { return source_; }
  /// All "__metadata__" key/value strings (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Metadata value, or Error naming the file and key when absent.
  const std::string& metadata(const std::string& key) const;
  /// Entries in data order.
  const std::vector<TensorEntry>& tensors() const { return entries_; }
  /// True when the file holds a tensor of that name.
  bool contains(const std::string& name) const;
  /// Entry by name; Error naming the file and tensor when absent.
  const TensorEntry& at(const std::string& name) const;
  /// The raw little-endian bytes of a tensor (Error when only the header was read).
  std::span<const std::uint8_t> raw(const std::string& name) const;
  /// A tensor as float32 (F32 exactly; F64, I32, I64, U8 converted).
  Tensor to_tensor(const std::string& name) const;
  /// An integer tensor as int64 (I64, I32, U8); Error for floating dtypes.
  std::vector<std::int64_t> to_int64(const std::string& name) const;

 private:
  static SafetensorsFile read_file(const std::filesystem::path& path, const HeaderCheck* check_header, bool data);
  void parse_header(const char* header, std::size_t length, std::size_t data_size);
  std::string source_;
  std::vector<std::uint8_t> bytes_;  // the whole file (empty when only the header was read)
  std::size_t data_start_ = 0;
  std::vector<TensorEntry> entries_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// Builds a safetensors file: add tensors (in the order they are stored), set metadata, then save.
class SafetensorsWriter {
 public:
  /// Adds an F32 tensor (values copied). Throws Error for an empty or duplicate name or values.size() != numel(shape).
  void add(const std::string& name, const Shape& shape, std::span<const float> values);
  /// Adds an I64 tensor (values copied), e.g. an optimizer's step count. Same checks as the float overload.
  void add(const std::string& name, const Shape& shape, std::span<const std::int64_t> values);
  /// Sets a "__metadata__" string (replacing any earlier value of key).
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

/// Saves model's parameters and buffers with PyTorch's names ("layer1.weight", "bn1.running_mean", ...), and metadata plus "model" = model.spec().
void save_state_dict(const std::filesystem::path& path, Model& model,
                     const std::map<std::string, std::string>& metadata = {});
/// What load_state_dict checks, without a model: that file holds exactly the F32 tensors named prefix + name with
/// the given shapes (as Model::parameter_shapes() lists them) among the names starting with prefix, so that a file
/// can be checked against a spec before a model of it is built. model names the architecture in messages. Throws
/// Error naming the file and the first missing, extra or mis-shaped tensor. Reads only the header.
void check_state_dict(const SafetensorsFile& file, const std::vector<std::pair<std::string, Shape>>& parameters,
                      const std::string& model, const std::string& prefix = "");
/// The same for every state-dict entry of a model (parameters F32, buffers F32 or I64 as the entry says).
void check_state_dict(const SafetensorsFile& file, const std::vector<StateEntry>& entries, const std::string& model,
                      const std::string& prefix = "");
/// Loads the tensors named prefix + parameter name into model. Throws Error naming the file and tensor for a
/// missing tensor, a wrong shape or dtype, or (among names starting with prefix) a tensor the model does not have.
void load_state_dict(const SafetensorsFile& file, Model& model, const std::string& prefix = "");
/// Reads the file at path and loads its tensors into model (no prefix); the same errors, naming the file.
void load_state_dict(const std::filesystem::path& path, Model& model);

}  // namespace mnist
