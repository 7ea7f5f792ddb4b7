// mnist version / mnist --version: the same text either way, exit 0, nothing on stderr; the version is CMake's
// project VERSION, the options line follows the MNIST_WITH_* CMake options, and every library the build uses is
// listed with a version number: the optional ones (cpp-httplib and Chart.js with the server, Open MPI with MPI, ONNX
// and protobuf with ONNX export) exactly when built in, with the versions CMake found. The expected values come from
// CMake (tests/cli/CMakeLists.txt), not from the code under test.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "mnist/version.hpp"
#include "support/cli_runner.hpp"

namespace {

using mnist::testing::run_cli;

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

// text with every regex metacharacter escaped ("Chart.js" -> "Chart\.js"), to match it literally.
std::string regex_quote(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

TEST(CliVersion, VersionFlagAndCommandPrintTheSameText) {
  const auto flag = run_cli("--version");
  const auto command = run_cli("version");
  EXPECT_EQ(flag.code, 0) << flag.err;
  EXPECT_EQ(command.code, 0) << command.err;
  EXPECT_EQ(flag.err, "");
  EXPECT_EQ(command.err, "");
  EXPECT_EQ(flag.out, command.out);
  EXPECT_EQ(flag.out.substr(0, flag.out.find('\n')), std::string("mnist ") + MNIST_EXPECTED_VERSION);
}

TEST(CliVersion, SaysHowItWasBuilt) {
  const auto run = run_cli("version");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find(std::string("\noptions:   ") + MNIST_EXPECTED_OPTIONS + "\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(std::string("\nbuild:     ") + MNIST_EXPECTED_BUILD_TYPE + ", "), std::string::npos)
      << run.out;
  EXPECT_TRUE(std::regex_search(run.out, std::regex("\nkernels:   (AVX2\\+FMA|scalar) on this CPU\n"))) << run.out;
}

TEST(CliVersion, ListsEveryLibraryWithAVersionNumber) {
  const auto run = run_cli("version");
  ASSERT_EQ(run.code, 0) << run.err;
  for (const char* name : {"OpenBLAS", "zlib", "libcurl", "OpenSSL", "libpng", "libjpeg", "PLplot", "fmt",
                           "nlohmann json", "CLI11"}) {
    // "  zlib           1.2.13": the name at the start of an indented line, then a version with a dot.
    const std::regex row(std::string("\n  ") + name + " +[^\n]*[0-9]+\\.[0-9]+");
    EXPECT_TRUE(std::regex_search(run.out, row)) << name << " missing or without a version in:\n" << run.out;
  }
}

TEST(CliVersion, ListsTheOptionalLibrariesExactlyWhenBuiltIn) {
  const auto run = run_cli("--version");
  ASSERT_EQ(run.code, 0) << run.err;
  const std::vector<std::string> present = split_commas(MNIST_EXPECTED_OPTIONAL_LIBRARIES);
  for (const std::string& entry : present) {
    const std::string name = entry.substr(0, entry.find('='));
    const std::string version = entry.substr(entry.find('=') + 1);
    // With a version from CMake, that version as a whole word of the row; else any version number.
    const std::string value = version.empty()
                                  ? "[^\n]*[0-9]+\\.[0-9]+[^\n]*"
                                  : "(|[^\n]*[^0-9.])" + regex_quote(version) + "([^0-9.][^\n]*)?";
    const std::regex row("\n  " + regex_quote(name) + " +" + value + "\n");
    EXPECT_TRUE(std::regex_search(run.out, row)) << name << " " << version << " missing in:\n" << run.out;
  }
  for (const std::string& name : split_commas(MNIST_EXPECTED_ABSENT_LIBRARIES)) {
    const std::regex row("\n  " + regex_quote(name) + " ");
    EXPECT_FALSE(std::regex_search(run.out, row)) << name << " listed, but not built in:\n" << run.out;
  }
  EXPECT_EQ(present.size() + split_commas(MNIST_EXPECTED_ABSENT_LIBRARIES).size(), 5u);
}

TEST(CliVersion, ExtraArgumentsAreAUsageError) {
  const auto run = run_cli("version extra");
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(mnist::testing::line_count(run.err), 1u) << run.err;
}

TEST(LibraryVersion, MatchesTheProjectVersion) {
  EXPECT_EQ(mnist::version(), MNIST_EXPECTED_VERSION);
  const mnist::BuildInfo info = mnist::build_info();
  EXPECT_EQ(info.version, MNIST_EXPECTED_VERSION);
  ASSERT_EQ(info.options.size(), 3u);
  EXPECT_EQ(info.options[0].name, "MPI");
  EXPECT_EQ(info.options[1].name, "server");
  EXPECT_EQ(info.options[2].name, "ONNX");
  for (const mnist::BuildFact& library : info.libraries) EXPECT_FALSE(library.value.empty()) << library.name;
}

}  // namespace
