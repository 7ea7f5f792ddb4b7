#include "mnist/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "data/byte_source.hpp"
#include "mnist/error.hpp"
#include "util/files.hpp"

namespace mnist {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {
constexpr std::uint64_t kMaxHeader = 100'000'000;  // the reference implementation's limit

using json = nlohmann::json;

DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "F32") return DType::F32;
  if (s == "F64") return DType::F64;
  if (s == "I32") return DType::I32;
  if (s == "I64") return DType::I64;
  if (s == "U8") return DType::U8;
  throw Error(where + ": unsupported dtype '" + s + "' (supported: F32, F64, I32, I64, U8)");
}

std::size_t as_size(const json& v, const std::string& where, const char* what) {
  if (!v.is_number_unsigned()) throw Error(where + ": " + what + " must be non-negative integers");
  return v.get<std::size_t>();
}

// The header length in the first 8 bytes of a file of file_size bytes, checked against the rest of the file and the
// reference implementation's limit before anything is read or allocated for it. A JSON, PNG or text file fails
// here: its first 8 bytes read as a length of quintillions.
std::uint64_t header_length(const std::uint8_t* first8, std::size_t file_size, const std::string& source) {
  if (file_size < 8)
    throw Error(source + ": not a safetensors file (" + std::to_string(file_size) + " bytes, need at least 8)");
  std::uint64_t n = 0;
  std::memcpy(&n, first8, 8);
  if (n > file_size - 8)
    throw Error(source + ": not a safetensors file (header length " + std::to_string(n) + " exceeds the file's " +
                std::to_string(file_size - 8) + " bytes after the length)");
  if (n > kMaxHeader)
    throw Error(source + ": not a safetensors file (header length " + std::to_string(n) + " exceeds 100 MB)");
  return n;
}

// The next count bytes of a file read piece by piece (data::FileSource: it refuses directories and FIFOs, and knows
// the file's size before anything is read), so that each piece is checked before the next is read
// (util::read_file_bytes reads a file whole: 1 GB of anything passed as a model cost 1 GB before its first 8 bytes
// were looked at). An Error naming the file when it ends early (it shrank since it was opened).
void read_exact(data::FileSource& in, std::uint8_t* out, std::size_t count, const std::string& source) {
  if (in.read(out, count) != count)
    throw Error(source + ": cannot read (the file ended early or changed while being read)");
}
}  // namespace

std::string to_string(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  return "?";
}

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::I32: return 4;
    case DType::F64: case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

SafetensorsFile SafetensorsFile::parse(std::vector<std::uint8_t> bytes, const std::string& source) {
  SafetensorsFile f;
  f.source_ = source;
  const std::uint64_t n = header_length(bytes.data(), bytes.size(), source);
  f.parse_header(reinterpret_cast<const char*>(bytes.data() + 8), n, bytes.size() - 8 - n);
  f.bytes_ = std::move(bytes);
  return f;
}

SafetensorsFile SafetensorsFile::read(const std::filesystem::path& path, const HeaderCheck& check_header) {
  return read_file(path, check_header ? &check_header : nullptr, true);
}

SafetensorsFile SafetensorsFile::read_header(const std::filesystem::path& path) {
  return read_file(path, nullptr, false);
}

SafetensorsFile SafetensorsFile::read_file(const std::filesystem::path& path, const HeaderCheck* check_header,
                                           bool data) {
  SafetensorsFile f;
  f.source_ = path.string();
  data::FileSource in(path);
  const std::size_t size = in.input_size();
  std::uint8_t first8[8] = {};
  if (size >= 8) read_exact(in, first8, 8, f.source_);
  const std::uint64_t n = header_length(first8, size, f.source_);  // <= the file's size: safe to allocate
  std::vector<std::uint8_t> header(n);
  read_exact(in, header.data(), n, f.source_);
  f.parse_header(reinterpret_cast<const char*>(header.data()), n, size - 8 - n);
  if (check_header) (*check_header)(f);
  if (!data) return f;
  // The header's entries cover exactly the bytes after it: the file's size is what they take.
  f.bytes_.resize(size);
  std::memcpy(f.bytes_.data(), first8, 8);
  if (n > 0) std::memcpy(f.bytes_.data() + 8, header.data(), n);
  header = {};
  read_exact(in, f.bytes_.data() + 8 + n, size - 8 - n, f.source_);
  return f;
}

// Validates the header (length bytes of JSON) of a file with data_size bytes of tensors after it, filling entries_,
// index_ and metadata_.
void SafetensorsFile::parse_header(const char* hb, std::size_t n, std::size_t data_size) {
  const std::string& source = source_;
  // nlohmann keeps the last of duplicate keys silently and builds any nesting before we can look at it; the
  // callback sees every key and every nesting level first. A valid header nests 3 deep (header, entry, shape):
  // refusing depth early keeps a hostile header of a million '[' from costing gigabytes.
  constexpr int kMaxDepth = 8;
  std::vector<std::set<std::string>> open_objects;  // keys seen in each object being parsed
  std::string duplicate, duplicate_entry, entry;  // entry: the top-level key being parsed
  int duplicate_depth = 0;
  const json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth > kMaxDepth)
          throw Error(source + ": header nests JSON deeper than " + std::to_string(kMaxDepth) + " levels");
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (depth == 1) entry = parsed.get<std::string>();
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
          duplicate_depth = depth;
          duplicate_entry = entry;
        }
        break;
      default:
        break;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(hb, hb + n, cb);
  } catch (const json::exception& e) {
    throw Error(source + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!duplicate.empty()) {
    if (duplicate_depth == 1) throw Error(source + ": tensor '" + duplicate + "' appears twice in the header");
    throw Error(source + ": '" + duplicate_entry + "': key '" + duplicate + "' appears twice");
  }
  if (!header.is_object()) throw Error(source + ": header is not a JSON object");
  data_start_ = 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) throw Error(source + ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) throw Error(source + ": __metadata__ value of '" + m.key() + "' is not a string");
        metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const std::string where = source + ": tensor '" + name + "'";
    const json& e = *it;
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw Error(where + ": entry must be an object with dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) throw Error(where + ": dtype is not a string");
    TensorEntry t;
    t.name = name;
    t.dtype = parse_dtype(e["dtype"].get<std::string>(), where);
    if (!e["shape"].is_array()) throw Error(where + ": shape is not an array");
    std::size_t count = 1;
    for (const json& d : e["shape"]) {
      const std::size_t dim = as_size(d, where, "shape dimensions");
      if (dim != 0 && count > std::numeric_limits<std::size_t>::max() / 16 / dim)
        throw Error(where + ": shape is too large");
      count *= dim;
      t.shape.push_back(dim);
    }
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2) throw Error(where + ": data_offsets must be [begin, end]");
    t.begin = as_size(off[0], where, "data_offsets");
    t.end = as_size(off[1], where, "data_offsets");
    if (t.begin > t.end || t.end > data_size)
      throw Error(where + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                  "] lie outside the " + std::to_string(data_size) + " data bytes");
    if (t.end - t.begin != count * dtype_size(t.dtype))
      throw Error(where + ": holds " + std::to_string(t.end - t.begin) + " bytes but " + to_string(t.dtype) + " " +
                  shape_string(t.shape) + " needs " + std::to_string(count * dtype_size(t.dtype)));
    entries_.push_back(std::move(t));
  }
  std::stable_sort(entries_.begin(), entries_.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::size_t pos = 0;
  for (const TensorEntry& t : entries_) {
    if (t.begin != pos)
      throw Error(source + ": tensor '" + t.name + "' starts at byte " + std::to_string(t.begin) + ", expected " +
                  std::to_string(pos) + " (tensors must be contiguous, without gaps or overlaps)");
    pos = t.end;
  }
  if (pos != data_size)
    throw Error(source + ": " + std::to_string(data_size - pos) + " bytes after the last tensor");
  for (std::size_t i = 0; i < entries_.size(); ++i) index_[entries_[i].name] = i;
}

const std::string& SafetensorsFile::metadata(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) throw Error(source_ + ": no __metadata__ entry '" + key + "'");
  return it->second;
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) > 0; }

const TensorEntry& SafetensorsFile::at(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) throw Error(source_ + ": no tensor '" + name + "'");
  return entries_[it->second];
}

std::span<const std::uint8_t> SafetensorsFile::raw(const std::string& name) const {
  const TensorEntry& t = at(name);
  if (bytes_.size() < data_start_ + t.end)
    throw Error(source_ + ": tensor '" + name + "': only the header was read, not the tensors' bytes");
  return std::span(bytes_).subspan(data_start_ + t.begin, t.end - t.begin);
}

namespace {
template <typename T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
}  // namespace

Tensor SafetensorsFile::to_tensor(const std::string& name) const {
  const TensorEntry& t = at(name);
  const std::span<const std::uint8_t> b = raw(name);
  const std::size_t n = numel(t.shape), w = dtype_size(t.dtype);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = b.data() + i * w;
    switch (t.dtype) {
      case DType::F32: v[i] = load<float>(p); break;
      case DType::F64: v[i] = static_cast<float>(load<double>(p)); break;
      case DType::I32: v[i] = static_cast<float>(load<std::int32_t>(p)); break;
      case DType::I64: v[i] = static_cast<float>(load<std::int64_t>(p)); break;
      case DType::U8: v[i] = static_cast<float>(*p); break;
    }
  }
  return Tensor(t.shape, std::move(v));
}

std::vector<std::int64_t> SafetensorsFile::to_int64(const std::string& name) const {
  const TensorEntry& t = at(name);
  const std::span<const std::uint8_t> b = raw(name);
  const std::size_t n = numel(t.shape), w = dtype_size(t.dtype);
  std::vector<std::int64_t> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = b.data() + i * w;
    switch (t.dtype) {
      case DType::I64: v[i] = load<std::int64_t>(p); break;
      case DType::I32: v[i] = load<std::int32_t>(p); break;
      case DType::U8: v[i] = *p; break;
      default: throw Error(source_ + ": tensor '" + name + "' is " + to_string(t.dtype) + ", expected an integer dtype");
    }
  }
  return v;
}

void SafetensorsWriter::add_raw(const std::string& name, DType dtype, const Shape& shape, const void* data,
                                std::size_t count) {
  if (name == "__metadata__" || name.empty()) throw Error("safetensors: invalid tensor name '" + name + "'");
  for (const Item& it : items_)
    if (it.name == name) throw Error("safetensors: tensor '" + name + "' added twice");
  if (count != numel(shape))
    throw Error("safetensors: tensor '" + name + "' of shape " + shape_string(shape) + " given " +
                std::to_string(count) + " values");
  Item item{name, dtype, shape, std::vector<std::uint8_t>(count * dtype_size(dtype))};
  if (count) std::memcpy(item.data.data(), data, item.data.size());
  items_.push_back(std::move(item));
}

void SafetensorsWriter::add(const std::string& name, const Shape& shape, std::span<const float> values) {
  add_raw(name, DType::F32, shape, values.data(), values.size());
}

void SafetensorsWriter::add(const std::string& name, const Shape& shape, std::span<const std::int64_t> values) {
  add_raw(name, DType::I64, shape, values.data(), values.size());
}

std::vector<std::uint8_t> SafetensorsWriter::bytes() const {
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::size_t pos = 0;
  for (const Item& it : items_) {
    header[it.name] = {{"dtype", to_string(it.dtype)}, {"shape", it.shape}, {"data_offsets", {pos, pos + it.data.size()}}};
    pos += it.data.size();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> out(8 + h.size() + pos);
  const std::uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, h.data(), h.size());
  std::size_t at = 8 + h.size();
  for (const Item& it : items_) {
    if (!it.data.empty()) std::memcpy(out.data() + at, it.data.data(), it.data.size());
    at += it.data.size();
  }
  return out;
}

void SafetensorsWriter::save(const std::filesystem::path& path) const { util::write_file_atomically(path, bytes()); }

void save_state_dict(const std::filesystem::path& path, Model& model, const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter w;
  for (const NamedParameter& p : model.named_parameters()) w.add(p.name, p.shape, std::span<const float>(p.value));
  for (const NamedBuffer& b : model.named_buffers()) {
    if (b.count.empty())
      w.add(b.name, b.shape, std::span<const float>(b.value));
    else
      w.add(b.name, b.shape, std::span<const std::int64_t>(b.count));
  }
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  if (!model.spec().empty() && !metadata.count("model")) w.set_metadata("model", model.spec());
  w.save(path);
}

void check_state_dict(const SafetensorsFile& file, const std::vector<StateEntry>& entries, const std::string& model,
                      const std::string& prefix) {
  std::set<std::string> wanted;
  for (const StateEntry& e : entries) wanted.insert(prefix + e.name);
  for (const TensorEntry& t : file.tensors())
    if (t.name.compare(0, prefix.size(), prefix) == 0 && !wanted.count(t.name))
      throw Error(file.source() + ": tensor '" + t.name + "' is not a parameter of model " + model);
  // The dtype and the shape fix the byte size too: parse checked end - begin == numel(shape) * dtype_size.
  for (const StateEntry& e : entries) {
    const std::string name = prefix + e.name;
    if (!file.contains(name)) throw Error(file.source() + ": missing tensor '" + name + "' of model " + model);
    const TensorEntry& t = file.at(name);
    const DType want = e.int64 ? DType::I64 : DType::F32;
    if (t.dtype != want)
      throw Error(file.source() + ": tensor '" + name + "' is " + to_string(t.dtype) + ", expected " + to_string(want));
    if (t.shape != e.shape)
      throw Error(file.source() + ": tensor '" + name + "' has shape " + shape_string(t.shape) + ", model " + model +
                  " needs " + shape_string(e.shape));
  }
}

void check_state_dict(const SafetensorsFile& file, const std::vector<std::pair<std::string, Shape>>& parameters,
                      const std::string& model, const std::string& prefix) {
  std::vector<StateEntry> entries;
  for (const auto& [name, shape] : parameters) entries.push_back({name, shape});
  check_state_dict(file, entries, model, prefix);
}

void load_state_dict(const SafetensorsFile& file, Model& model, const std::string& prefix) {
  check_state_dict(file, model.state_entries(), model.spec(), prefix);
  // Only now, with everything checked, overwrite: a failed load leaves the model untouched.
  for (const NamedParameter& p : model.named_parameters()) {
    const std::span<const std::uint8_t> b = file.raw(prefix + p.name);
    std::memcpy(p.value.data(), b.data(), b.size());
  }
  for (const NamedBuffer& buf : model.named_buffers()) {
    const std::span<const std::uint8_t> b = file.raw(prefix + buf.name);
    std::memcpy(buf.count.empty() ? static_cast<void*>(buf.value.data()) : static_cast<void*>(buf.count.data()),
                b.data(), b.size());
  }
}

void load_state_dict(const std::filesystem::path& path, Model& model) {
  load_state_dict(SafetensorsFile::read(path), model);
}

}  // namespace mnist
