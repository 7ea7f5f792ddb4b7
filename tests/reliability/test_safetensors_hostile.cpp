// The safetensors reader against hostile files, rule by rule as the reference implementation enforces them
// (issue 6, item 3): every bad file is refused with one Error whose message names the tensor (or key) at fault,
// and a failed load leaves the model untouched.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>

#include "mnist/checkpoint.hpp"
#include "mnist/error.hpp"
#include "mnist/nn.hpp"
#include "mnist/safetensors.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using Bytes = std::vector<std::uint8_t>;

namespace {

// A safetensors file: u64 little-endian header length, the header as given (no padding), then data_size bytes.
Bytes file_with(const std::string& header, std::size_t data_size, std::uint64_t claimed_length = ~0ull) {
  Bytes out(8 + header.size() + data_size, 0x3f);
  const std::uint64_t n = claimed_length == ~0ull ? header.size() : claimed_length;
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, std::size_t begin,
                  std::size_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// The message of the Error that parsing bytes throws ("" when it parses).
std::string parse_error(const Bytes& bytes) {
  try {
    SafetensorsFile::parse(bytes, "evil.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct Case {
  const char* what;
  Bytes bytes;
  std::vector<std::string> must_name;  // substrings the message must hold (besides the file name)
};

std::vector<Case> hostile_files() {
  const std::string a = entry("a", "F32", "[2]", 0, 8);
  return {
      {"empty file", {}, {"8"}},
      {"7 bytes", Bytes(7, 0), {"8"}},
      {"header length over 100 MB", file_with("{}", 0, 100'000'001), {"not a safetensors file", "100000001"}},
      {"header length 2^64-1", file_with("{}", 0, ~0ull - 1), {"not a safetensors file"}},
      {"header length beyond the file", file_with("{}", 0, 1000), {"not a safetensors file", "1000"}},
      {"header not JSON", file_with("{\"a\":", 0), {"JSON"}},
      {"header a JSON array", file_with("[1,2]", 0), {"object"}},
      {"entry not an object", file_with("{\"w\":5}", 0), {"'w'"}},
      {"entry without data_offsets", file_with("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), {"'w'"}},
      {"unknown dtype BF16", file_with("{" + entry("w", "BF16", "[2]", 0, 4) + "}", 4), {"'w'", "BF16"}},
      {"unknown dtype empty", file_with("{" + entry("w", "", "[2]", 0, 4) + "}", 4), {"'w'"}},
      {"dtype not a string", file_with("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), {"'w'"}},
      {"negative shape", file_with("{" + entry("w", "F32", "[-1]", 0, 4) + "}", 4), {"'w'"}},
      {"fractional shape", file_with("{" + entry("w", "F32", "[1.5]", 0, 4) + "}", 4), {"'w'"}},
      {"shape not an array", file_with("{" + entry("w", "F32", "3", 0, 12) + "}", 12), {"'w'"}},
      {"shape whose product overflows", file_with("{" + entry("w", "F32", "[4294967296,4294967296,16]", 0, 4) + "}", 4),
       {"'w'"}},
      {"shape whose byte size overflows", file_with("{" + entry("w", "F64", "[2305843009213693952]", 0, 8) + "}", 8),
       {"'w'"}},
      {"size != product(shape) x dtype size", file_with("{" + entry("w", "F32", "[3]", 0, 8) + "}", 8), {"'w'", "12"}},
      {"offsets past the file", file_with("{" + entry("w", "F32", "[2]", 0, 8) + "}", 4), {"'w'"}},
      {"offsets end before begin", file_with("{" + entry("w", "F32", "[0]", 8, 4) + "}", 8), {"'w'"}},
      {"offsets negative", file_with("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 4), {"'w'"}},
      {"offsets with 3 numbers", file_with("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1),
       {"'w'"}},
      {"gap before the first tensor", file_with("{" + entry("w", "F32", "[1]", 4, 8) + "}", 8), {"'w'"}},
      {"gap between tensors", file_with("{" + a + "," + entry("b", "F32", "[1]", 12, 16) + "}", 16), {"'b'"}},
      {"overlapping tensors", file_with("{" + a + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12), {"'b'"}},
      {"two tensors on the same bytes", file_with("{" + a + "," + entry("b", "F32", "[2]", 0, 8) + "}", 8), {"'"}},
      {"bytes after the last tensor", file_with("{" + a + "}", 12), {"4 bytes"}},
      {"duplicate tensor name", file_with("{" + a + "," + entry("a", "F32", "[1]", 8, 12) + "}", 12), {"'a'"}},
      {"metadata value a number", file_with("{\"__metadata__\":{\"epoch\":3}}", 0), {"'epoch'"}},
      {"metadata value an object", file_with("{\"__metadata__\":{\"m\":{\"x\":\"y\"}}}", 0), {"'m'"}},
      {"metadata value null", file_with("{\"__metadata__\":{\"m\":null}}", 0), {"'m'"}},
      {"metadata not an object", file_with("{\"__metadata__\":\"x\"}", 0), {"__metadata__"}},
      {"invalid UTF-8 in a name", file_with("{\"\xff\xfe\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0),
       {"JSON"}},
  };
}

}  // namespace

TEST(SafetensorsHostile, EveryBadFileIsRefusedWithAMessageNamingWhatIsWrong) {
  for (const Case& c : hostile_files()) {
    const std::string message = parse_error(c.bytes);
    ASSERT_FALSE(message.empty()) << c.what << ": accepted";
    EXPECT_EQ(message.rfind("evil.safetensors", 0), 0u) << c.what << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.what << ": " << message;
    for (const std::string& s : c.must_name)
      EXPECT_NE(message.find(s), std::string::npos) << c.what << ": '" << s << "' not in: " << message;
  }
}

TEST(SafetensorsHostile, TheValidFilesNextToThemAreAccepted) {
  // The same construction with nothing wrong parses: the refusals above are about the fault, not the helper.
  EXPECT_EQ(parse_error(file_with("{}", 0)), "");
  EXPECT_EQ(parse_error(file_with("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[1]", 8, 12) + "}", 12)), "");
  EXPECT_EQ(parse_error(file_with("{" + entry("e", "F32", "[0,3]", 0, 0) + "," + entry("s", "U8", "[]", 0, 1) + "}", 1)), "");
  EXPECT_EQ(parse_error(file_with("{\"__metadata__\":{\"model\":\"4-3-2\"}}", 0)), "");
  // A header exactly at the limit is judged on its content, not refused for its length.
  EXPECT_EQ(parse_error(file_with("{}", 0, 2)), "");
}

TEST(SafetensorsHostile, DeeplyNestedHeaderIsRefusedWithoutCrashing) {
  // 256 kB of '[': a recursive parser overflows its stack on this; the reader must refuse it with an Error.
  const std::string deep(1 << 18, '[');
  EXPECT_NE(parse_error(file_with(deep, 0)), "");
  const std::string deep_in_entry = "{\"w\":" + std::string(1 << 18, '[');
  EXPECT_NE(parse_error(file_with(deep_in_entry, 0)), "");
}

// Regression: the header's nesting depth was not limited, and nlohmann built
// the whole nested value before the reader looks at it: ~100 bytes of memory and ~2 us per byte of header, so a
// 99 MB header of '[' (under the 100 MB limit) costs ~10 GB and minutes. A valid header nests 3 deep; the
// reference implementation stops at 128. Refused at the first absurd level, 8 MB takes microseconds.
TEST(SafetensorsHostile, DeeplyNestedHeaderIsRefusedQuickly) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(parse_error(file_with(std::string(8 << 20, '['), 0)), "");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}

namespace {
Model small_model() { return make_model("4-3-2", 1); }

// small_model()'s state dict, with edit applied to its tensors before writing.
Bytes state_dict(const std::function<void(SafetensorsWriter&, Model&)>& edit) {
  Model m = small_model();
  SafetensorsWriter w;
  edit(w, m);
  return w.bytes();
}

std::string load_error(const Bytes& bytes, Model& model) {
  try {
    load_state_dict(SafetensorsFile::parse(bytes, "ckpt.safetensors"), model);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void add_all_but(SafetensorsWriter& w, Model& m, const std::string& skip) {
  for (const NamedParameter& p : m.named_parameters())
    if (p.name != skip) w.add(p.name, p.shape, std::span<const float>(p.value));
}
}  // namespace

TEST(SafetensorsHostile, LoadingIntoAModelNamesTheMissingExtraOrMisshapenTensor) {
  struct LoadCase {
    const char* what;
    Bytes bytes;
    std::string must_name;
  };
  const std::vector<float> six(6, 0.5f), three(3, 0.5f);
  const std::vector<std::int64_t> ints(3, 1);
  const std::vector<LoadCase> cases = {
      {"missing tensor", state_dict([](SafetensorsWriter& w, Model& m) { add_all_but(w, m, "layer2.bias"); }),
       "'layer2.bias'"},
      {"extra tensor", state_dict([&](SafetensorsWriter& w, Model& m) {
         add_all_but(w, m, "");
         w.add("layer3.weight", {2, 3}, std::span<const float>(six));
       }),
       "'layer3.weight'"},
      {"wrong shape", state_dict([&](SafetensorsWriter& w, Model& m) {
         add_all_but(w, m, "layer2.weight");
         w.add("layer2.weight", {3, 2}, std::span<const float>(six));
       }),
       "'layer2.weight'"},
      {"wrong dtype", state_dict([&](SafetensorsWriter& w, Model& m) {
         add_all_but(w, m, "layer1.bias");
         w.add("layer1.bias", {3}, std::span<const std::int64_t>(ints));
       }),
       "'layer1.bias'"},
  };
  for (const LoadCase& c : cases) {
    Model model = small_model();
    const std::vector<float> before(model.parameters().begin(), model.parameters().end());
    const std::string message = load_error(c.bytes, model);
    EXPECT_NE(message.find(c.must_name), std::string::npos) << c.what << ": " << message;
    EXPECT_NE(message.find("ckpt.safetensors"), std::string::npos) << c.what << ": " << message;
    const std::vector<float> after(model.parameters().begin(), model.parameters().end());
    EXPECT_EQ(before, after) << c.what << ": a failed load changed the model";
  }
}

// Regression: inside an entry or __metadata__, a repeated key was taken
// silently (the last one wins), so two readers can disagree about the same file; the reference implementation
// refuses a duplicate field.
TEST(SafetensorsHostile, DuplicateKeyInsideAnEntryIsRefused) {
  const std::string dup = "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  EXPECT_NE(parse_error(file_with(dup, 4)).find("'w'"), std::string::npos);
  const std::string dup_meta = "{\"__metadata__\":{\"model\":\"logistic\",\"model\":\"hidden\"}}";
  EXPECT_NE(parse_error(file_with(dup_meta, 0)).find("'model'"), std::string::npos);
}

// ---- Reading piece by piece, and checkpoints checked against their header before anything is built ----

namespace {
namespace fs = std::filesystem;

// The process's peak resident size so far, in MB (each CTest case runs in its own process).
double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KB on Linux
}

// A sparse file of size bytes (it takes no disk) starting with the 8 bytes of header_length.
void write_sparse(const fs::path& path, std::uintmax_t size, std::uint64_t header_length) {
  Bytes first8(8);
  std::memcpy(first8.data(), &header_length, 8);
  mnist::testing::write_file(path, first8);
  fs::resize_file(path, size);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return std::string("UsageError: ") + e.what();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A checkpoint of "784-32-10" whose metadata claims the model spec model: 100 KB on disk.
fs::path checkpoint_claiming(const fs::path& dir, const std::string& model) {
  Model small = make_model("784-32-10", 1);
  save_state_dict(dir / "claims.safetensors", small, {{"model", model}});
  return dir / "claims.safetensors";
}
}  // namespace

// Regression: every file was read whole before its first 8 bytes were looked at: 1 GB of anything given as a model
// cost 1 GB and seconds. Now the header length is checked against the file's size, then the header is read and
// checked, and only then the rest.
TEST(SafetensorsHostile, AFileThatIsNotSafetensorsIsRefusedFromItsFirstBytes) {
  mnist::testing::TempDir dir;
  const double before = peak_rss_mb();
  write_sparse(dir / "zeros.safetensors", 300u << 20, 0);  // header length 0: no JSON at all
  const std::string zeros = error_of([&] { SafetensorsFile::read(dir / "zeros.safetensors"); });
  EXPECT_NE(zeros.find("zeros.safetensors: header is not valid JSON"), std::string::npos) << zeros;
  // A length under the file's size but over the reference limit: refused without reading the 150 MB.
  write_sparse(dir / "long.safetensors", 300u << 20, 150'000'000);
  const std::string long_header = error_of([&] { SafetensorsFile::read(dir / "long.safetensors"); });
  EXPECT_NE(long_header.find("long.safetensors: not a safetensors file (header length 150000000 exceeds 100 MB)"),
            std::string::npos)
      << long_header;
  EXPECT_LT(peak_rss_mb() - before, 100.0) << "the files were read whole";
}

// Regression: a JSON or PNG file given as a model said "header length 8386094078871210619 exceeds 100 MB".
TEST(SafetensorsHostile, JsonOrPngIsNotASafetensorsFile) {
  const std::string json = "{\"model\": \"hidden-relu\"}\n";
  const Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (const Bytes& bytes : {Bytes(json.begin(), json.end()), png}) {
    const std::string message = parse_error(bytes);
    EXPECT_EQ(message.rfind("evil.safetensors: not a safetensors file (header length ", 0), 0u) << message;
    EXPECT_NE(message.find("exceeds the file's " + std::to_string(bytes.size() - 8) + " bytes"), std::string::npos)
        << message;
  }
}

TEST(SafetensorsHostile, AHeaderReadAloneGivesNoTensorBytes) {
  mnist::testing::TempDir dir;
  Model small = small_model();
  save_state_dict(dir / "m.safetensors", small);
  const SafetensorsFile header = SafetensorsFile::read_header(dir / "m.safetensors");
  EXPECT_EQ(header.at("layer1.weight").shape, (Shape{3, 4}));
  EXPECT_EQ(header.metadata("model"), "4-3-2");
  EXPECT_NE(error_of([&] { header.to_tensor("layer1.weight"); }).find("only the header was read"), std::string::npos);
  // read() hands the same header to its check before reading the bytes; the check can refuse the file.
  const std::string refused = error_of([&] {
    SafetensorsFile::read(dir / "m.safetensors", [](const SafetensorsFile& h) {
      if (h.contains("layer2.bias")) throw Error(h.source() + ": refused by the check");
    });
  });
  EXPECT_NE(refused.find("refused by the check"), std::string::npos) << refused;
  EXPECT_EQ(SafetensorsFile::read(dir / "m.safetensors", [](const SafetensorsFile&) {}).to_tensor("layer2.bias").numel(),
            2u);
}

// Regression: a 31 KB checkpoint whose metadata says model=784-125000-10 reached 800 MB resident before failing:
// make_model built the spec's 98 million parameters (and their gradients) before the tensors were compared with it.
TEST(SafetensorsHostile, CheckpointClaimingAHugeModelIsRefusedBeforeItIsBuilt) {
  mnist::testing::TempDir dir;
  const fs::path path = checkpoint_claiming(dir.path(), "784-125000-10");
  const double before = peak_rss_mb();
  const std::string message = error_of([&] { load_checkpoint(path); });
  EXPECT_EQ(message, path.string() + ": tensor 'layer1.weight' has shape [32, 784], model 784-125000-10 needs "
                                     "[125000, 784]");
  EXPECT_LT(peak_rss_mb() - before, 100.0) << "the model of the metadata was built";
}

// train --resume reads the spec from resume.safetensors and builds it: the same check, against model.safetensors.
TEST(SafetensorsHostile, ASpecKeptElsewhereIsCheckedAgainstTheCheckpointBeforeItIsBuilt) {
  mnist::testing::TempDir dir;
  Model small = make_model("784-32-10", 1);
  save_checkpoint(dir / "model.safetensors", small, {});
  const fs::path path = dir / "model.safetensors";
  EXPECT_EQ(error_of([&] { check_checkpoint_holds(path, "784-32-10", "resume.safetensors: metadata \"model\""); }), "");
  const double before = peak_rss_mb();
  EXPECT_EQ(error_of([&] { check_checkpoint_holds(path, "784-125000-10", "resume.safetensors: metadata \"model\""); }),
            path.string() + ": tensor 'layer1.weight' has shape [32, 784], model 784-125000-10 needs [125000, 784]");
  EXPECT_LT(peak_rss_mb() - before, 100.0);
  const std::string bad = error_of([&] { check_checkpoint_holds(path, "784-0-10", "resume.safetensors: metadata \"model\""); });
  EXPECT_EQ(bad.rfind("resume.safetensors: metadata \"model\" is not a valid model spec: model spec '784-0-10'", 0), 0u)
      << bad;
}

// Regression: what a checkpoint holds is the file's fault, never a usage error: a bare state dict whose
// layer1.weight is [0, 784] gave "usage error: model spec '784-0': width 0 ...", naming no file.
TEST(SafetensorsHostile, ACheckpointsContentsAreRuntimeErrorsNamingTheFile) {
  mnist::testing::TempDir dir;
  SafetensorsWriter zero;
  zero.add("layer1.weight", {0, 784}, std::span<const float>());
  zero.add("layer1.bias", {0}, std::span<const float>());
  zero.save(dir / "zero.safetensors");
  EXPECT_EQ(error_of([&] { load_checkpoint(dir / "zero.safetensors"); }),
            (dir / "zero.safetensors").string() + ": tensor 'layer1.weight' has shape [0, 784]: a layer of width 0 "
                                                  "makes no model");
  // Metadata "model" that is no spec, with a line break: one line naming the file.
  const fs::path odd = checkpoint_claiming(dir.path(), "784-\n32-10");
  const std::string odd_error = error_of([&] { load_checkpoint(odd); });
  EXPECT_EQ(odd_error.rfind(odd.string() + ": metadata \"model\" is not a valid model spec: ", 0), 0u) << odd_error;
  EXPECT_EQ(odd_error.find('\n'), std::string::npos) << odd_error;
  // The caller's --model is still the caller's: a usage error.
  EXPECT_EQ(error_of([&] { load_checkpoint(dir / "zero.safetensors", "784-0-10"); }).rfind("UsageError: ", 0), 0u);
}
