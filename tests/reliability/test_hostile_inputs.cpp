// Hostile inputs besides checkpoints: model specs with absurd widths, images whose headers claim absurd sizes,
// IDX files whose headers lie. Each is refused with one Error (UsageError for a spec) before anything big is
// allocated, never a crash.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>

#include "mnist/error.hpp"
#include "mnist/idx.hpp"
#include "mnist/image.hpp"
#include "mnist/nn.hpp"
#include "support/test_support.hpp"
#include "util/files.hpp"

using namespace mnist;
using Bytes = std::vector<std::uint8_t>;

TEST(HostileInputs, BadModelSpecsAreUsageErrorsQuotingTheSpec) {
  for (const std::string& spec : std::vector<std::string>{"784-0-10", "784-99999999999999999999999-10", "784-1000001-10", "-", "784-", "-10",
                                 "relu", "784-relu", "784-10-relu", "784-relu-relu-10", "784- 10", "784-+10",
                                 "784-0x10", "784-1e3-10", "784-10.5", "784-é-10"}) {
    try {
      parse_model_spec(spec);
      ADD_FAILURE() << "accepted '" << spec << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + spec + "'"), std::string::npos) << e.what();
    }
  }
}

// Regression: every width was checked (<= 1,000,000) but not their product,
// so this spec asks for ~10^12 parameters (8 TB with gradients): std::bad_alloc (or an ASan abort), not an Error.
// A checkpoint's "model" metadata reaches make_model too, so a hostile checkpoint can do the same.
TEST(HostileInputs, HugeModelIsRefusedBeforeAllocating) {
  EXPECT_THROW(make_model("784-1000000-1000000-10"), UsageError);
  EXPECT_THROW(parse_model_spec("784-1000000-1000000-1000000-10"), UsageError);
}

namespace {
// The PNG the library writes for a 1x1 image, with IHDR's width and height replaced (and its CRC fixed).
Bytes png_claiming(std::uint32_t width, std::uint32_t height) {
  mnist::testing::TempDir dir;
  write_png(dir / "one.png", GrayImage{1, 1, {128}});
  Bytes png = mnist::testing::read_file(dir / "one.png");
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ..., CRC over type + data (17 bytes).
  EXPECT_EQ(std::memcmp(png.data() + 12, "IHDR", 4), 0);
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<std::uint8_t>(width >> (24 - 8 * i));
    png[20 + i] = static_cast<std::uint8_t>(height >> (24 - 8 * i));
  }
  const uLong crc = crc32(0, png.data() + 12, 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  return png;
}

std::string decode_error(const Bytes& bytes) {
  try {
    decode_image(bytes, "evil.png");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(HostileInputs, ImagesClaimingAbsurdSizesAreRefused) {
  EXPECT_EQ(decode_error(png_claiming(1, 1)), "");  // the helper's file is fine as it is
  for (const auto& [w, h] : std::vector<std::pair<std::uint32_t, std::uint32_t>>{
           {20000, 20000}, {16384, 16384}, {1, 1u << 30}, {0x7fffffff, 0x7fffffff}, {0, 5}}) {
    const std::string message = decode_error(png_claiming(w, h));
    EXPECT_NE(message, "") << w << "x" << h << " accepted";
    EXPECT_EQ(message.rfind("evil.png", 0), 0u) << message;
  }
}

TEST(HostileInputs, ImagesThatAreNotImagesAreRefused) {
  EXPECT_NE(decode_error({}), "");
  EXPECT_NE(decode_error({0x89, 'P', 'N', 'G'}), "");
  EXPECT_NE(decode_error({0xFF, 0xD8, 0xFF}), "");
  EXPECT_NE(decode_error(Bytes(100, 'x')), "");
  Bytes truncated = png_claiming(1, 1);
  truncated.resize(truncated.size() / 2);
  EXPECT_NE(decode_error(truncated), "");
}

TEST(HostileInputs, IdxHeadersThatLieAreRefusedBeforeAllocating) {
  // Each claims far more than the input holds; the reader must say so, not try to allocate it.
  const std::vector<Bytes> lies = {
      mnist::testing::idx_bytes(0x08, {0xffffffff, 0xffffffff, 0xffffffff}, {1, 2, 3}),
      mnist::testing::idx_bytes(0x08, {60000, 28, 28}, Bytes(784, 0)),
      mnist::testing::idx_bytes(0x08, {0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x10000}, {}),
  };
  for (const Bytes& raw : lies) EXPECT_THROW(parse_idx(raw, "evil-idx"), Error);
}

namespace {
// Peak resident memory of this process so far (VmHWM), in bytes.
std::size_t peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      std::size_t kb = 0;
      status >> kb;
      return kb * 1024;
    }
    status.ignore(1 << 20, '\n');
  }
  return 0;
}

Bytes gzip_of(const Bytes& bytes) {
  mnist::testing::TempDir dir;
  mnist::testing::write_gzip(dir / "x.gz", bytes);
  return mnist::testing::read_file(dir / "x.gz");
}
}  // namespace

// Gzip bombs: ~1 MB of gzip that inflates to 1 GiB of zeros after a small, valid IDX array. The reader inflates
// no more than the header claims plus one byte (to see that the data ends there), so it refuses them as trailing
// data at once, in little memory, instead of inflating the gigabyte first.
TEST(HostileInputs, GzipBombsAfterAValidArrayAreRefusedWithoutInflatingThem) {
  const Bytes zeros_member = gzip_of(Bytes(std::size_t{16} << 20, 0));  // 16 MiB of zeros in ~16 kB
  const Bytes array = mnist::testing::idx_bytes(0x08, {1000}, Bytes(1000, 7));
  // (a) the array in one gzip member, then 64 members of zeros; (b) the array and 16 MiB of zeros in one member,
  // then 63 more members.
  Bytes separate = gzip_of(array);
  Bytes array_and_zeros = array;
  array_and_zeros.resize(array.size() + (std::size_t{16} << 20), 0);
  Bytes joined = gzip_of(array_and_zeros);
  for (int i = 0; i < 64; ++i) {
    separate.insert(separate.end(), zeros_member.begin(), zeros_member.end());
    if (i < 63) joined.insert(joined.end(), zeros_member.begin(), zeros_member.end());
  }
  ASSERT_LT(separate.size(), std::size_t{4} << 20);
  for (const Bytes* bomb : {&separate, &joined}) {
    const std::size_t rss_before = peak_rss();
    const auto start = std::chrono::steady_clock::now();
    std::string message;
    try {
      parse_idx(*bomb, "bomb-idx1-ubyte.gz");
    } catch (const Error& e) {
      message = e.what();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(message.rfind("bomb-idx1-ubyte.gz", 0), 0u) << message;
    EXPECT_NE(message.find("trailing bytes"), std::string::npos) << message;
    EXPECT_LT(seconds, 1.0);
    EXPECT_LT(peak_rss() - rss_before, std::size_t{32} << 20);
  }
}

// A header that claims more than its gzip data can hold (over 1032 bytes of output per byte of input, DEFLATE's
// limit) is refused from the header alone, before anything is inflated or allocated.
TEST(HostileInputs, GzipClaimBeyondDeflateLimitIsRefusedFromTheHeader) {
  const Bytes small = gzip_of(mnist::testing::idx_bytes(0x08, {60000, 28, 28}, Bytes(784, 1)));
  try {
    parse_idx(small, "claim-idx3-ubyte.gz");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than"), std::string::npos) << e.what();
  }
}

// A gzip'd header may claim up to 1032 bytes per byte of gzip (DEFLATE's limit), so a 1 MB file can claim a
// gigabyte while holding a megabyte. The reader grows its buffer as data arrives: it fails as truncated after
// inflating the megabyte, without ever allocating the claimed gigabyte.
TEST(HostileInputs, GzipClaimWithinDeflateLimitButUntrueCostsWhatTheFileHolds) {
  Bytes noise(std::size_t{1} << 20);
  std::mt19937 gen(5);
  for (auto& b : noise) b = static_cast<std::uint8_t>(gen());
  Bytes raw = mnist::testing::idx_bytes(0x08, {1000, 1000, 1000}, {});  // claims 10^9 bytes
  raw.insert(raw.end(), noise.begin(), noise.end());
  const Bytes liar = gzip_of(raw);
  ASSERT_GT(liar.size() * 1032, std::size_t{1000000000});  // the claim passes the header check
  const std::size_t rss_before = peak_rss();
  std::string message;
  try {
    parse_idx(liar, "liar-idx3-ubyte.gz");
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_LT(peak_rss() - rss_before, std::size_t{200} << 20);
}

// Special files where a file is expected: a FIFO would block its reader (or a writer's rename would replace it),
// a device would be read without end or replaced by a PNG. Refused with one Error naming the path; a symbolic link
// to a regular file is written through, the link kept.
TEST(HostileInputs, FifosAndDevicesAreRefusedAndLinksWrittenThrough) {
  mnist::testing::TempDir dir;
  const std::filesystem::path fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const Bytes bytes = {1, 2, 3};
  auto expect_refused = [](const std::function<void()>& f, const std::string& path, const std::string& kind) {
    try {
      f();
      ADD_FAILURE() << "accepted " << path;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), path + ": is " + kind + ", not a regular file");
    }
  };
  expect_refused([&] { util::read_file_bytes(fifo); }, fifo.string(), "a FIFO");
  expect_refused([&] { util::write_file_atomically(fifo, bytes); }, fifo.string(), "a FIFO");
  expect_refused([&] { read_idx(fifo); }, fifo.string(), "a FIFO");
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  expect_refused([] { util::read_file_bytes("/dev/zero"); }, "/dev/zero", "a device");
  const std::filesystem::path fifo_link = dir.path() / "fifo-link";
  std::filesystem::create_symlink(fifo, fifo_link);
  expect_refused([&] { util::write_file_atomically(fifo_link, bytes); }, fifo_link.string(), "a FIFO");

  const std::filesystem::path target = dir.path() / "target.bin", link = dir.path() / "link.bin";
  mnist::testing::write_file(target, {9});
  std::filesystem::create_symlink(target, link);
  util::write_file_atomically(link, bytes);
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(mnist::testing::read_file(target), bytes);
  EXPECT_EQ(util::read_file_bytes(link), bytes);
}
