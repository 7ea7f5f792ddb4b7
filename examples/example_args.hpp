// The command line the example programs share, handled by hand so that an example needs nothing but the mnist
// library: the flags --dataset NAME, --data-dir DIR, --download, --epochs E, --limit N, --seed S, --out DIR and
// --help (an example adds its own through a callback, see custom_mlp.cpp), and errors as one line with an exit code.
#pragma once
#include <mnist/mnist.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

namespace example {

/// What the shared flags set. An example fills in its own defaults before parsing.
struct CommonArgs {
  mnist::DataOptions data;        // --dataset, --data-dir, --download
  std::size_t epochs = 1;         // --epochs, at least 1
  std::size_t limit = 0;          // --limit N: the first N training images only (a quick run); 0: all of them
  std::uint64_t seed = 0;         // --seed
  std::filesystem::path out;      // --out; empty: not given
};

/// text as a whole number >= 0, or a UsageError naming flag.
inline std::size_t parse_count(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  // stoull accepts "-1" (as 2^64 - 1) and "12abc" (as 12): refuse both.
  if (used == 0 || used != text.size() || text[0] == '-')
    throw mnist::UsageError(flag + ": expected a non-negative integer, got '" + text + "'");
  return static_cast<std::size_t>(value);
}

/// text as a number > 0, or a UsageError naming flag.
inline double parse_positive(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !(value > 0))  // !(value > 0) also refuses NaN
    throw mnist::UsageError(flag + ": expected a positive number, got '" + text + "'");
  return value;
}

/// Takes the value of the flag being read (the next argument), or throws a UsageError when there is none.
using FlagValue = std::function<std::string()>;
/// An example's own flags: sets what flag means and returns true, or returns false for a flag it does not know.
using OtherFlags = std::function<bool(const std::string& flag, const FlagValue& value)>;

/// Reads argv into args (and the example's own flags through other). --help prints usage and exits 0.
inline void parse_args(int argc, char** argv, const char* usage, CommonArgs& args, const OtherFlags& other = {}) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const FlagValue value = [&]() -> std::string {
      if (i + 1 >= argc) throw mnist::UsageError(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--dataset") args.data.dataset = value();
    else if (flag == "--data-dir") args.data.data_dir = value();
    else if (flag == "--download") args.data.download = true;
    else if (flag == "--epochs") args.epochs = parse_count(flag, value());
    else if (flag == "--limit") args.limit = parse_count(flag, value());
    else if (flag == "--seed") args.seed = parse_count(flag, value());
    else if (flag == "--out") args.out = value();
    else if (flag == "--help" || flag == "-h") {
      std::puts(usage);
      std::exit(0);
    } else if (!other || !other(flag, value)) {
      throw mnist::UsageError("unknown option '" + flag + "' (try --help)");
    }
  }
  if (args.epochs == 0) throw mnist::UsageError("--epochs must be at least 1");
}

/// main's body: returns what body returns, or reports an error as one line "program: error: ..." on stderr and
/// returns 2 for bad flags (mnist::UsageError), 1 for anything else (a missing file, a bad model spec...).
inline int run_main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const mnist::UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace example
