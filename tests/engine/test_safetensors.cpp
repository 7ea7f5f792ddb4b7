// safetensors: round trips, the reference files' layout, and every validation error path.
#include <gtest/gtest.h>

#include <cstring>

#include "mnist/error.hpp"
#include "mnist/safetensors.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::testing;

namespace {
// A file from a header string and data bytes, as a hostile or broken writer would produce it.
std::vector<std::uint8_t> raw_file(const std::string& header, std::size_t data_bytes) {
  std::vector<std::uint8_t> out(8 + header.size() + data_bytes, 0);
  const std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

void expect_error(const std::vector<std::uint8_t>& bytes, const std::string& fragment) {
  try {
    SafetensorsFile::parse(bytes, "bad.safetensors");
    ADD_FAILURE() << "accepted a file that should fail with '" << fragment << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}
}  // namespace

TEST(Safetensors, RoundTripF32I64AndMetadata) {
  SafetensorsWriter w;
  const std::vector<float> a{1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  const std::vector<std::int64_t> b{0, -1, 1LL << 40};
  w.add("a", {2, 3}, a);
  w.add("b", {3}, b);
  w.add("empty", {0, 4}, std::span<const float>());
  w.set_metadata("model", "hidden");
  w.set_metadata("lr", "0.1");
  const std::vector<std::uint8_t> bytes = w.bytes();
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  EXPECT_EQ(f.metadata("model"), "hidden");
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.at("a").shape, (Shape{2, 3}));
  EXPECT_EQ(f.at("a").dtype, DType::F32);
  const Tensor ta = f.to_tensor("a");
  EXPECT_EQ(std::vector<float>(ta.span().begin(), ta.span().end()), a);
  EXPECT_EQ(f.to_int64("b"), b);
  EXPECT_EQ(f.at("empty").shape, (Shape{0, 4}));
  EXPECT_THROW(f.to_int64("a"), Error);
  EXPECT_THROW(f.at("nope"), Error);
  EXPECT_THROW(f.metadata("nope"), Error);
}

TEST(Safetensors, ReadsOtherDtypes) {
  // F64 [2], I32 [1], U8 [3]: 16 + 4 + 3 = 23 bytes
  const std::string h = R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
                        R"("i":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},)"
                        R"("u":{"dtype":"U8","shape":[3],"data_offsets":[20,23]}})";
  std::vector<std::uint8_t> bytes = raw_file(h, 23);
  const double x[2] = {0.5, -3.0};
  const std::int32_t i = -42;
  std::memcpy(bytes.data() + 8 + h.size(), x, 16);
  std::memcpy(bytes.data() + 8 + h.size() + 16, &i, 4);
  bytes[8 + h.size() + 20] = 200;
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  EXPECT_EQ(f.to_tensor("x")[1], -3.0f);
  EXPECT_EQ(f.to_int64("i"), (std::vector<std::int64_t>{-42}));
  EXPECT_EQ(f.to_int64("u")[0], 200);
  EXPECT_EQ(f.tensors().front().name, "x");  // data order
}

TEST(Safetensors, RejectsMalformedFiles) {
  expect_error({1, 2, 3}, "at least 8");
  std::vector<std::uint8_t> huge(16, 0);
  huge[6] = 1;  // 2^48
  expect_error(huge, "not a safetensors file (header length 281474976710656 exceeds the file's 8 bytes");
  std::vector<std::uint8_t> beyond = raw_file("{}", 0);
  beyond[0] = 50;
  expect_error(beyond, "exceeds the file");
  expect_error(raw_file("{not json", 0), "not valid JSON");
  expect_error(raw_file("[1,2]", 0), "not a JSON object");
  expect_error(raw_file(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 2), "unsupported dtype 'F16'");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "tensor 'a'");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "needs 8");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", 4), "outside");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4), "outside");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "data_offsets");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "'a' appears twice");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4), "contiguous");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "contiguous");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12), "8 bytes after");
  expect_error(raw_file(R"({"__metadata__":{"k":1}})", 0), "not a string");
  expect_error(raw_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", 4),
               "too large");
}

TEST(Safetensors, StateDictRoundTripAndStrictLoading) {
  TempDir dir;
  Model a = make_model("hidden-relu", 1);
  save_state_dict(dir / "m.safetensors", a, {{"epochs", "3"}});
  const SafetensorsFile f = SafetensorsFile::read(dir / "m.safetensors");
  EXPECT_EQ(f.metadata("model"), "hidden-relu");
  EXPECT_EQ(f.metadata("epochs"), "3");
  Model b = make_model("hidden-relu", 2);
  load_state_dict(dir / "m.safetensors", b);
  EXPECT_TRUE(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));

  Model wrong_shape = make_model("784-16-10");
  const std::vector<float> before(wrong_shape.parameters().begin(), wrong_shape.parameters().end());
  try {
    load_state_dict(dir / "m.safetensors", wrong_shape);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'layer1.weight' has shape [32, 784]"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::equal(before.begin(), before.end(), wrong_shape.parameters().begin()));  // untouched
  Model logistic = make_model("logistic");
  EXPECT_THROW(load_state_dict(dir / "m.safetensors", logistic), Error);  // extra layer1.*, missing linear.*
  Model deeper = make_model("784-32-relu-10-relu-10");
  try {
    load_state_dict(dir / "m.safetensors", deeper);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'layer3.weight'"), std::string::npos) << e.what();
  }
  // Extra tensors are named.
  SafetensorsWriter w;
  for (const NamedParameter& p : a.named_parameters()) w.add(p.name, p.shape, std::span<const float>(p.value));
  const std::vector<float> one{1};
  w.add("layer9.bias", {1}, one);
  w.save(dir / "extra.safetensors");
  try {
    load_state_dict(dir / "extra.safetensors", b);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'layer9.bias' is not a parameter"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SafetensorsFile::read(dir / "missing.safetensors"), Error);
}
