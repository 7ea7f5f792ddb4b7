// The IDX reader on small generated files: what it accepts and every way a file can be wrong.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "data/pages.hpp"
#include "mnist/error.hpp"
#include "mnist/idx.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace mnist;
using namespace mnist::testing;

namespace {

std::vector<std::uint8_t> iota_bytes(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 7);
  return out;
}

// The message of the Error that read_idx throws for path (fails the test when it does not throw).
std::string read_error(const fs::path& path) {
  try {
    read_idx(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "read_idx(" << path << ") did not throw";
  return {};
}

// Peak resident memory of this process (VmHWM), in bytes.
std::size_t peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string key;
  std::size_t kb = 0;
  while (status >> key) {
    if (key == "VmHWM:") {
      status >> kb;
      break;
    }
  }
  return kb * 1024;
}

}  // namespace

TEST(Idx, ReadsRawAndGzipUnsignedBytes) {
  TempDir dir;
  auto payload = iota_bytes(2 * 3 * 4);
  auto bytes = idx_bytes(0x08, {2, 3, 4}, payload);
  write_file(dir / "a-idx3-ubyte", bytes);
  write_gzip(dir / "a-idx3-ubyte.gz", bytes);
  write_file(dir / "a.idx3-ubyte", bytes);
  for (const char* name : {"a-idx3-ubyte", "a-idx3-ubyte.gz", "a.idx3-ubyte"}) {
    IdxArray array = read_idx(dir / name);
    EXPECT_EQ(array.type, IdxType::UInt8) << name;
    EXPECT_EQ(array.dims, (std::vector<std::size_t>{2, 3, 4})) << name;
    EXPECT_EQ(array.bytes, payload) << name;
  }
}

TEST(Idx, ParsesBytesInMemoryRawOrGzip) {
  TempDir dir;
  auto payload = iota_bytes(5);
  auto bytes = idx_bytes(0x08, {5}, payload);
  IdxArray raw = parse_idx(bytes, "mem");
  EXPECT_EQ(raw.dims, std::vector<std::size_t>{5});
  EXPECT_EQ(raw.bytes, payload);
  write_gzip(dir / "x.gz", bytes);
  IdxArray gz = parse_idx(read_file(dir / "x.gz"), "mem.gz");
  EXPECT_EQ(gz.bytes, payload);
}

TEST(Idx, ReadsConcatenatedGzipMembers) {
  TempDir dir;
  auto bytes = idx_bytes(0x08, {6}, iota_bytes(6));
  std::vector<std::uint8_t> first(bytes.begin(), bytes.begin() + 7), second(bytes.begin() + 7, bytes.end());
  write_gzip(dir / "1.gz", first);
  write_gzip(dir / "2.gz", second);
  auto joined = read_file(dir / "1.gz");
  auto tail = read_file(dir / "2.gz");
  joined.insert(joined.end(), tail.begin(), tail.end());
  write_file(dir / "joined-idx1-ubyte.gz", joined);
  EXPECT_EQ(read_idx(dir / "joined-idx1-ubyte.gz").bytes, iota_bytes(6));
}

TEST(Idx, RejectsBadMagic) {
  TempDir dir;
  auto bytes = idx_bytes(0x08, {4}, iota_bytes(4));
  bytes[0] = 0x12;
  write_file(dir / "m-idx1-ubyte", bytes);
  std::string message = read_error(dir / "m-idx1-ubyte");
  EXPECT_NE(message.find("bad magic"), std::string::npos) << message;
  EXPECT_NE(message.find("m-idx1-ubyte"), std::string::npos) << message;
}

TEST(Idx, RejectsOtherElementTypesByName) {
  TempDir dir;
  write_file(dir / "f", idx_bytes(0x0D, {2}, std::vector<std::uint8_t>(8, 0)));
  EXPECT_NE(read_error(dir / "f").find("float32"), std::string::npos) << read_error(dir / "f");
  write_file(dir / "u", idx_bytes(0x42, {2}, {1, 2}));
  EXPECT_NE(read_error(dir / "u").find("unknown IDX element type 0x42"), std::string::npos) << read_error(dir / "u");
}

TEST(Idx, RejectsZeroOrTooManyDimensions) {
  TempDir dir;
  write_file(dir / "n0", idx_bytes(0x08, {}, {1, 2, 3}));
  EXPECT_NE(read_error(dir / "n0").find("0 dimensions"), std::string::npos) << read_error(dir / "n0");
  write_file(dir / "n9", idx_bytes(0x08, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {1}));
  EXPECT_NE(read_error(dir / "n9").find("9 dimensions"), std::string::npos) << read_error(dir / "n9");
}

TEST(Idx, RejectsZeroDimension) {
  TempDir dir;
  write_file(dir / "z", idx_bytes(0x08, {3, 0, 28}, {}));
  EXPECT_NE(read_error(dir / "z").find("dimension 1 of the IDX header is 0"), std::string::npos)
      << read_error(dir / "z");
}

TEST(Idx, RejectsTruncatedHeaderAndPayload) {
  TempDir dir;
  write_file(dir / "h", {0, 0, 8});
  EXPECT_NE(read_error(dir / "h").find("truncated IDX header"), std::string::npos) << read_error(dir / "h");
  auto header_cut = idx_bytes(0x08, {2, 28, 28}, {});
  header_cut.resize(header_cut.size() - 2);
  write_file(dir / "d", header_cut);
  EXPECT_NE(read_error(dir / "d").find("truncated IDX header"), std::string::npos) << read_error(dir / "d");
  auto short_payload = idx_bytes(0x08, {2, 28, 28}, iota_bytes(2 * 28 * 28 - 1));
  write_file(dir / "p", short_payload);
  EXPECT_NE(read_error(dir / "p").find("truncated"), std::string::npos) << read_error(dir / "p");
  write_gzip(dir / "p.gz", short_payload);
  EXPECT_NE(read_error(dir / "p.gz").find("truncated"), std::string::npos) << read_error(dir / "p.gz");
}

TEST(Idx, RejectsTruncatedGzipStream) {
  TempDir dir;
  write_gzip(dir / "full.gz", idx_bytes(0x08, {1000}, iota_bytes(1000)));
  auto gz = read_file(dir / "full.gz");
  gz.resize(gz.size() - 6);  // cut into the CRC32/ISIZE trailer
  write_file(dir / "cut.gz", gz);
  EXPECT_NE(read_error(dir / "cut.gz").find("truncated gzip data"), std::string::npos) << read_error(dir / "cut.gz");
}

TEST(Idx, RejectsCorruptGzip) {
  TempDir dir;
  write_gzip(dir / "full.gz", idx_bytes(0x08, {4000}, iota_bytes(4000)));
  auto gz = read_file(dir / "full.gz");
  gz[gz.size() / 2] ^= 0xff;
  write_file(dir / "bad.gz", gz);
  EXPECT_NE(read_error(dir / "bad.gz").find("bad.gz"), std::string::npos);
  EXPECT_NE(read_error(dir / "bad.gz").find("gzip"), std::string::npos) << read_error(dir / "bad.gz");
}

TEST(Idx, RejectsTrailingBytes) {
  TempDir dir;
  auto bytes = idx_bytes(0x08, {3}, {1, 2, 3, 4});
  write_file(dir / "t", bytes);
  EXPECT_NE(read_error(dir / "t").find("trailing bytes"), std::string::npos) << read_error(dir / "t");
  write_gzip(dir / "t.gz", bytes);
  EXPECT_NE(read_error(dir / "t.gz").find("trailing bytes"), std::string::npos) << read_error(dir / "t.gz");
  // Junk after a complete gzip member.
  auto gz = read_file(dir / "t.gz");
  write_gzip(dir / "ok.gz", idx_bytes(0x08, {4}, {1, 2, 3, 4}));
  gz = read_file(dir / "ok.gz");
  gz.push_back('x');
  write_file(dir / "junk.gz", gz);
  EXPECT_NE(read_error(dir / "junk.gz").find("trailing bytes"), std::string::npos) << read_error(dir / "junk.gz");
}

TEST(Idx, RejectsEmptyFiles) {
  TempDir dir;
  write_file(dir / "empty-idx1-ubyte", {});
  EXPECT_NE(read_error(dir / "empty-idx1-ubyte").find("empty file"), std::string::npos);
  write_file(dir / "empty-idx1-ubyte.gz", {});
  EXPECT_NE(read_error(dir / "empty-idx1-ubyte.gz").find("empty file"), std::string::npos);
  write_gzip(dir / "nothing.gz", {});  // valid gzip of zero bytes
  EXPECT_NE(read_error(dir / "nothing.gz").find("empty file"), std::string::npos) << read_error(dir / "nothing.gz");
  EXPECT_THROW(parse_idx({}, "mem"), Error);
}

TEST(Idx, RejectsNonGzipNamedGz) {
  TempDir dir;
  write_file(dir / "raw-idx1-ubyte.gz", idx_bytes(0x08, {2}, {1, 2}));
  std::string message = read_error(dir / "raw-idx1-ubyte.gz");
  EXPECT_NE(message.find("not gzip data"), std::string::npos) << message;
}

TEST(Idx, MissingFileAndDirectoryAreNamed) {
  TempDir dir;
  EXPECT_NE(read_error(dir / "nope").find("cannot open"), std::string::npos);
  EXPECT_NE(read_error(dir.path()).find("is a directory"), std::string::npos);
}

// A header claiming 2^31 images of 28x28 (1.7 TB) in a 100-byte file must be refused before any allocation.
TEST(Idx, HugeClaimIsRefusedWithoutAllocating) {
  TempDir dir;
  auto bytes = idx_bytes(0x08, {0x80000000u, 28, 28}, iota_bytes(100 - 16));
  ASSERT_EQ(bytes.size(), 100u);
  write_file(dir / "huge-idx3-ubyte", bytes);
  write_gzip(dir / "huge-idx3-ubyte.gz", bytes);
  // Also a claim that fits in the DEFLATE bound of a big-looking file but not in its data: 1 GB from 100 bytes.
  auto start = std::chrono::steady_clock::now();
  std::size_t rss_before = peak_rss();
  std::string raw = read_error(dir / "huge-idx3-ubyte");
  std::string gz = read_error(dir / "huge-idx3-ubyte.gz");
  std::string mem = [&] {
    try {
      parse_idx(bytes, "mem");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(raw.find("2147483648 x 28 x 28"), std::string::npos) << raw;
  EXPECT_NE(raw.find("truncated"), std::string::npos) << raw;
  EXPECT_NE(gz.find("more than"), std::string::npos) << gz;
  EXPECT_NE(mem.find("truncated"), std::string::npos) << mem;
  EXPECT_LT(seconds, 0.5);
  EXPECT_LT(peak_rss() - rss_before, std::size_t{16} << 20);
}

// The overflow of the element count in 64 bits is caught too.
TEST(Idx, DimensionProductOverflowIsRefused) {
  auto bytes = idx_bytes(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {1, 2, 3});
  try {
    parse_idx(bytes, "mem");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("> 2^64"), std::string::npos) << e.what();
  }
}

// Training reads image bytes at random places; the reader asks for 2 MiB pages for a big buffer (before touching
// it), which the kernel marks on the mapping ("hg" in VmFlags) whatever it can then back it with.
TEST(Idx, BigBuffersAreAdvisedToHugePages) {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(thp, modes);
  if (modes.empty() || modes.find("[never]") != std::string::npos) GTEST_SKIP() << "no transparent huge pages here";
  TempDir dir;
  const auto payload = iota_bytes(std::size_t{10000} * 28 * 28);  // 7.8 MB, MNIST's test set
  const auto bytes = idx_bytes(0x08, {10000, 28, 28}, payload);
  write_file(dir / "big-idx3-ubyte", bytes);
  write_gzip(dir / "big-idx3-ubyte.gz", bytes);
  for (const char* name : {"big-idx3-ubyte", "big-idx3-ubyte.gz"}) {
    const IdxArray array = read_idx(dir / name);
    ASSERT_EQ(array.bytes, payload) << name;
    const std::string flags = data::mapping_field(array.bytes.data() + array.bytes.size() / 2, "VmFlags") + " ";
    EXPECT_NE(flags.find(" hg "), std::string::npos) << name << ": " << flags;
  }
}
