// The mnist binary's info and show commands: output, and exit codes 0 / 1 (runtime error) / 2 (usage error) with a
// one-line message. The binary is found through $MNIST_CLI (set by mnist_add_test).
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "support/cli_runner.hpp"
#include "support/test_support.hpp"

using namespace mnist::testing;

TEST(CliData, UsageErrorsExitTwoWithOneLine) {
  for (const char* args : {"info --bogus", "info --dataset cifar", "show", "show abc", "show 0 --split validation",
                           "show -1", "", "frobnicate"}) {
    CliRun run = run_cli(args);
    EXPECT_EQ(run.code, 2) << args << ": " << run.err;
    EXPECT_EQ(line_count(run.err), 1u) << args << ": " << run.err;
    EXPECT_EQ(run.err.rfind("mnist: usage error: ", 0), 0u) << args << ": " << run.err;
  }
  EXPECT_NE(run_cli("info --bogus").err.find("--bogus"), std::string::npos);
  EXPECT_NE(run_cli("info --dataset cifar").err.find("cifar"), std::string::npos);
  EXPECT_NE(run_cli("show").err.find("INDEX"), std::string::npos);
}

TEST(CliData, HelpExitsZero) {
  CliRun run = run_cli("--help");
  EXPECT_EQ(run.code, 0);
  EXPECT_NE(run.out.find("info"), std::string::npos);
  EXPECT_NE(run.out.find("show"), std::string::npos);
}

TEST(CliData, RuntimeErrorsExitOneWithOneLine) {
  TempDir dir;
  CliRun missing = run_cli("info --dataset kmnist", 60, dir.path().string());  // nothing in ./data, no --download
  EXPECT_EQ(missing.code, 1) << missing.err;
  EXPECT_EQ(line_count(missing.err), 1u) << missing.err;
  EXPECT_EQ(missing.err.rfind("mnist: error: KMNIST not found", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("--download"), std::string::npos) << missing.err;

  write_file(dir / "train-images-idx3-ubyte.gz", {0, 0, 8, 3});  // named .gz, not gzip
  write_file(dir / "train-labels-idx1-ubyte", idx_bytes(0x08, {1}, {0}));
  CliRun bad = run_cli("show 0 --data-dir '" + dir.path().string() + "'");
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_EQ(line_count(bad.err), 1u) << bad.err;
  EXPECT_NE(bad.err.find("not gzip data"), std::string::npos) << bad.err;
}

TEST(CliData, InfoAndShowOnFashionMnist) {
  if (!fashion_mnist_dir()) GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  std::string data = " --data-dir " + fashion_mnist_dir()->string() + " --dataset fashion-mnist";
  CliRun info = run_cli("info" + data);
  EXPECT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("Dataset FashionMNIST\n    Number of datapoints: 60000"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("Number of datapoints: 10000"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("Image size: 28x28"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("9 Ankle boot    6000"), std::string::npos) << info.out;

  // --data-dir alone reads the directory as a custom data set: numbered classes, no name it may not have.
  CliRun custom = run_cli("info --data-dir " + fashion_mnist_dir()->string());
  EXPECT_EQ(custom.code, 0) << custom.err;
  EXPECT_NE(custom.out.find("Dataset custom\n"), std::string::npos) << custom.out;
  EXPECT_EQ(custom.out.find("Ankle boot"), std::string::npos) << custom.out;
  CliRun custom_show = run_cli("show 0 --data-dir " + fashion_mnist_dir()->string());
  EXPECT_NE(custom_show.out.find("#0 Label: 9\n"), std::string::npos) << custom_show.out;

  CliRun ascii = run_cli("show 0 --ascii" + data);
  EXPECT_EQ(ascii.code, 0) << ascii.err;
  EXPECT_NE(ascii.out.find("#0 Label: 9 (Ankle boot)"), std::string::npos) << ascii.out;
  EXPECT_EQ(line_count(ascii.out), 1u + 28u + 2u);

  CliRun range = run_cli("show 60000" + data);
  EXPECT_EQ(range.code, 2) << range.err;
  EXPECT_NE(range.err.find("INDEX 60000 is out of range"), std::string::npos) << range.err;

  TempDir dir;
  for (const char* indices : {"0", "0 1 2 3"}) {
    auto png = dir / "figure.png";
    CliRun show = run_cli(std::string("show ") + indices + " -o '" + png.string() + "'" + data + " --split test");
    EXPECT_EQ(show.code, 0) << show.err;
    auto bytes = read_file(png);
    ASSERT_GT(bytes.size(), 8u) << indices;
    EXPECT_EQ(std::string(bytes.begin() + 1, bytes.begin() + 4), "PNG") << indices;
    std::filesystem::remove(png);
  }
}
