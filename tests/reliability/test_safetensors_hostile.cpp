// The safetensors reader against hostile files, rule by rule as the reference implementation enforces them
// (issue 6, item 3): every bad file is refused with one Error whose message names the tensor (or key) at fault,
// and a failed load leaves the model untouched.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>

#include "mnist/error.hpp"
#include "mnist/nn.hpp"
#include "mnist/safetensors.hpp"

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
      {"header length over 100 MB", file_with("{}", 0, 100'000'001), {"100 MB"}},
      {"header length 2^64-1", file_with("{}", 0, ~0ull - 1), {"100 MB"}},
      {"header length beyond the file", file_with("{}", 0, 1000), {"1000"}},
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
