// Bad command-line input for every command (issue 6, item 7): out-of-range, non-numeric, empty and absurd flag
// values, paths that are missing, directories, unreadable, empty or not what they claim, images that are not
// images, 1x1 or 20000x20000. Each case runs the binary under a time limit and must end with the expected exit code
// (2 usage error, 1 runtime error) and ONE line on stderr naming the culprit: never a crash, never a hang.
// The table below is the audit; each row is its own CTest case (BadInput/CliBadInput.Refuses/<row>).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <regex>

#include "mnist/checkpoint.hpp"
#include "mnist/image.hpp"
#include "mnist/nn.hpp"
#include "mnist/safetensors.hpp"
#include "support/cli_runner.hpp"
#include "support/dataset_dirs.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::testing;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string args;     // {NAME} placeholders are files made by the fixture (see Files)
  int code;             // expected exit code: 2 usage error, 1 runtime error
  std::string culprit;  // must appear in the message (placeholders allowed)
};

// Names the case in test output by its command line rather than its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << "mnist " << c.args.substr(0, 100); }

std::string indices(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += " " + std::to_string(i);
  return out;
}

// Every row: command, input, expected exit code, what the message must name.
const std::vector<Case>& cases() {
  static const std::vector<Case> table = {
      // The tool itself.
      {"", 2, "subcommand"},
      {"frobnicate", 2, "frobnicate"},
      {"--bogus", 2, "--bogus"},
      {"--bogus info", 2, "--bogus"},
      // info
      {"info --dataset ''", 2, "--dataset"},
      {"info --dataset cifar", 2, "cifar"},
      // --mirror: only web URLs (the downloader refuses other protocols, file by file, after making the directory).
      {"info --dataset kmnist --download --mirror ''", 2, "--mirror"},
      {"info --dataset kmnist --download --mirror example.org/kmnist", 2, "example.org/kmnist"},
      {"info --dataset kmnist --download --mirror file:///tmp/kmnist", 2, "file:///tmp/kmnist"},
      {"info --dataset kmnist --download --mirror http://", 2, "http://"},
      {"info --data-dir {MISSING}", 1, "{MISSING}"},
      {"info --data-dir {EMPTY}", 1, "{EMPTY}"},
      {"info --data-dir {EMPTYDIR}", 1, "{EMPTYDIR}"},
      {"info --data-dir {LYING}", 1, "{LYING}"},
      {"info --data-dir {DATA} --extra", 2, "--extra"},
      // show
      {"show", 2, "INDEX"},
      {"show -1 --data-dir {DATA}", 2, "-1"},
      {"show abc --data-dir {DATA}", 2, "abc"},
      {"show '' --data-dir {DATA}", 2, "INDEX"},
      {"show 1e3 --data-dir {DATA}", 2, "1e3"},
      {"show 99999999999999999999 --data-dir {DATA}", 2, "99999999999999999999"},
      {"show 300 --data-dir {DATA}", 2, "300"},
      {"show 0 --data-dir {DATA} --split ''", 2, "--split"},
      {"show 0 --data-dir {DATA} -o ''", 2, "-o"},
      {"show 0 --data-dir {DATA} -o {DIR}", 1, "{DIR}"},
      {"show 0 --data-dir {DATA} -o {MISSING}/x.png", 1, "{MISSING}"},
      {"show 0 --data-dir {LYING}", 1, "{LYING}"},
      // evaluate
      {"evaluate", 2, "MODEL"},
      {"evaluate {CK} --bogus", 2, "--bogus"},
      {"evaluate {CK} extra --data-dir {DATA}", 2, "extra"},
      {"evaluate {CK} --split validation --data-dir {DATA}", 2, "--split"},
      {"evaluate {CK} --split '' --data-dir {DATA}", 2, "--split"},
      {"evaluate {MISSING} --data-dir {DATA}", 1, "{MISSING}"},
      {"evaluate {DIR} --data-dir {DATA}", 1, "{DIR}"},
      {"evaluate {EMPTY} --data-dir {DATA}", 1, "{EMPTY}"},
      {"evaluate {TEXT} --data-dir {DATA}", 1, "{TEXT}"},
      {"evaluate {DIGIT} --data-dir {DATA}", 1, "{DIGIT}"},
      {"evaluate {TRUNCATED_CK} --data-dir {DATA}", 1, "{TRUNCATED_CK}"},
      {"evaluate {UNREADABLE} --data-dir {DATA}", 1, "{UNREADABLE}"},
      {"evaluate {BARE} --data-dir {DATA}", 1, "--model"},
      {"evaluate {BARE} --model '' --data-dir {DATA}", 2, "--model"},
      {"evaluate {BARE} --model nonsense --data-dir {DATA}", 2, "nonsense"},
      {"evaluate {BARE} --model 784-0-10 --data-dir {DATA}", 2, "784-0-10"},
      {"evaluate {BARE} --model logistic --data-dir {DATA}", 1, "{BARE}"},
      {"evaluate {CK} --model hidden --data-dir {DATA}", 2, "--model"},
      {"evaluate {CK} -o '' --data-dir {DATA}", 2, "-o"},
      {"evaluate {CK} -o {DIR} --data-dir {DATA}", 1, "{DIR}"},
      {"evaluate {CK} -o {MISSING}/confusion.png --data-dir {DATA}", 1, "{MISSING}"},
      {"evaluate {CK} -o {TEXT}/confusion.png --data-dir {DATA}", 1, "{TEXT}"},
      {"evaluate {CK} --json '' --data-dir {DATA}", 2, "--json"},
      {"evaluate {CK} --json {DIR} --data-dir {DATA}", 1, "{DIR}"},
      {"evaluate {CK} --dataset cifar", 2, "cifar"},
      {"evaluate {CK} --dataset custom", 2, "--data-dir"},
      {"evaluate {CK} --data-dir {MISSING}", 1, "{MISSING}"},
      {"evaluate {CK} --data-dir {EMPTYDIR}", 1, "{EMPTYDIR}"},
      {"evaluate {CK} --data-dir {LYING}", 1, "{LYING}"},
      {"evaluate {CK} --data-dir {DATA32}", 1, "{CK}"},
      {"evaluate {CK_CUSTOM}", 2, "--data-dir"},
      // Special files and inputs as outputs: refused before anything is written (renaming a new file over a FIFO
      // or /dev/null replaces it; -o naming the model would turn the checkpoint into a PNG), FIFOs as inputs
      // refused instead of waiting for a writer forever.
      {"evaluate {CK} -o {FIFO} --data-dir {DATA}", 1, "{FIFO}: is a FIFO"},
      {"evaluate {CK} --json {FIFO} --data-dir {DATA}", 1, "{FIFO}: is a FIFO"},
      {"show 0 --data-dir {DATA} -o {FIFO}", 1, "{FIFO}: is a FIFO"},
      {"evaluate {FIFO} --data-dir {DATA}", 1, "{FIFO}: is a FIFO"},
      {"predict {CK} {FIFO}", 1, "{FIFO}: is a FIFO"},
      {"plot {FIFO}", 1, "{FIFO}: is a FIFO"},
      {"info --data-dir {FIFO_DATA}", 1, "is a FIFO"},
      {"evaluate {CK} -o {CK} --data-dir {DATA}", 1, "{CK}: is {CK}, which this command reads"},
      {"evaluate {CK} --json {OUT}/../{OUT_NAME}/model.safetensors --data-dir {DATA}", 1, "which this command reads"},
      {"evaluate {CK} -o {OUT}/same.png --json {OUT}/./same.png --data-dir {DATA}", 2, "name the same file"},
      {"predict {CK} {DIGIT} -o {DIGIT}", 1, "{DIGIT}: is {DIGIT}, which this command reads"},
      {"predict {CK} {DIGIT} -o {CK}", 1, "{CK}: is {CK}, which this command reads"},
      // predict
      {"predict", 2, "MODEL"},
      {"predict {CK}", 2, "IMAGE"},
      {"predict {CK} {DIGIT} --index 0 --data-dir {DATA}", 2, "not both"},
      {"predict {CK} --index 0 {DIGIT} --data-dir {DATA}", 2, "{DIGIT}"},
      {"predict {CK} --index -1 --data-dir {DATA}", 2, "-1"},
      {"predict {CK} --index abc --data-dir {DATA}", 2, "abc"},
      {"predict {CK} --index '' --data-dir {DATA}", 2, "--index"},
      {"predict {CK} --index 0.5 --data-dir {DATA}", 2, "0.5"},
      {"predict {CK} --index 100 --data-dir {DATA}", 2, "--index 100"},
      {"predict {CK} --index 99999999999999999999 --data-dir {DATA}", 2, "99999999999999999999"},
      {"predict {CK} --index 0 --split foo --data-dir {DATA}", 2, "--split"},
      {"predict {CK} --index" + indices(401) + " -o {OUT}/grid.png --data-dir {DATA}", 2, "400"},
      {"predict {CK} {MISSING}", 1, "{MISSING}"},
      {"predict {CK} {DIR}", 1, "{DIR}"},
      {"predict {CK} {EMPTY}", 1, "{EMPTY}"},
      {"predict {CK} {TEXT}", 1, "{TEXT}"},
      {"predict {CK} {UNREADABLE}", 1, "{UNREADABLE}"},
      {"predict {CK} {FAKE_JPEG}", 1, "{FAKE_JPEG}"},
      {"predict {CK} {TRUNCATED_PNG}", 1, "{TRUNCATED_PNG}"},
      {"predict {CK} {ONE_BY_ONE}", 1, "{ONE_BY_ONE}"},
      {"predict {CK} {ONE_BY_ONE} --no-preprocess", 1, "{ONE_BY_ONE}"},
      {"predict {CK} {BLANK}", 1, "{BLANK}"},
      {"predict {CK} {HUGE}", 1, "{HUGE}"},
      {"predict {CK} {DIGIT} {HUGE}", 1, "{HUGE}"},
      {"predict {CK} {BIG_30} --no-preprocess", 1, "{BIG_30}"},
      {"predict {CK} {DIGIT} -o ''", 2, "-o"},
      {"predict {CK} {DIGIT} -o {DIR}", 1, "{DIR}"},
      {"predict {CK} {DIGIT} -o {MISSING}/x.png", 1, "{MISSING}"},
      {"predict {CK} {DIGIT} --json ''", 2, "--json"},
      {"predict {CK} {DIGIT} --json {DIR}", 1, "{DIR}"},
      {"predict {CK} {DIGIT} --json {MISSING}/p.json", 1, "{MISSING}"},
      {"predict {CK} {DIGIT} --json {TEXT}/p.json", 1, "{TEXT}"},
      {"predict {CK} {DIGIT} --json {FIFO}", 1, "{FIFO}: is a FIFO"},
      {"predict {CK} {DIGIT} --json {CK}", 1, "{CK}: is {CK}, which this command reads"},
      {"predict {CK} {DIGIT} --json {DIGIT}", 1, "{DIGIT}: is {DIGIT}, which this command reads"},
      {"predict {CK} {DIGIT} --json {OUT}/same -o {OUT}/same", 2, "name the same file"},
      {"predict {CK} {DIGIT} --json", 2, "--json"},
      {"predict {CK} {DIGIT} --model ''", 2, "--model"},
      {"predict {CK} {DIGIT} --model 784-relu", 2, "784-relu"},
      {"predict {BARE} {DIGIT}", 1, "--model"},
      {"predict {MISSING} {DIGIT}", 1, "{MISSING}"},
      {"predict {DIGIT} {DIGIT}", 1, "{DIGIT}"},
      {"predict {CK_8_CLASSES} --index 0 --data-dir {DATA}", 1, "{CK_8_CLASSES}"},
      {"predict {CK} --index 0 --data-dir {DATA32}", 1, "{CK}"},
      {"predict {CK32} {DIGIT}", 1, "--no-preprocess"},
      // checkpoint contents: what a MODEL or resume file holds is the file's fault, so exit 1 naming the file, never
      // a usage error; a file that is no safetensors at all says so (its first 8 bytes are no header length).
      {"evaluate {CK_ZERO_WIDTH} --data-dir {DATA}", 1, "{CK_ZERO_WIDTH}: tensor 'layer1.weight' has shape [0, 784]"},
      {"predict {CK_ZERO_WIDTH} {DIGIT}", 1, "{CK_ZERO_WIDTH}: tensor 'layer1.weight' has shape [0, 784]"},
      {"evaluate {CK_BAD_DATASET}", 1, "{CK_BAD_DATASET}: metadata \"dataset\" \"../../etc\""},
      {"predict {CK_BAD_DATASET} --index 0", 1, "{CK_BAD_DATASET}: metadata \"dataset\" \"../../etc\""},
      {"evaluate {JSON_MODEL} --data-dir {DATA}", 1, "{JSON_MODEL}: not a safetensors file (header length"},
      {"predict {DIGIT} {DIGIT}", 1, "{DIGIT}: not a safetensors file (header length"},
      {"train --data-dir {DATA} --resume {RESUME_HUGE}", 1, "{RESUME_HUGE}/model.safetensors: tensor 'layer1.weight'"},
      {"train --data-dir {DATA} --resume {RESUME_BAD_SPEC}", 1,
       "{RESUME_BAD_SPEC}/resume.safetensors: metadata \"model\" is not a valid model spec"},
      // train, compare, plot, plot-activation (cli-train's commands; the cases they get wrong are in
      // the review of 06:30 UTC, now fixed)
      {"train --data-dir {DATA} --epochs 0", 2, "--epochs"},
      {"train --data-dir {DATA} --epochs -1", 2, "--epochs"},
      {"train --data-dir {DATA} --epochs 1e12", 2, "--epochs"},
      {"train --data-dir {DATA} --epochs abc", 2, "--epochs"},
      {"train --data-dir {DATA} --epochs ''", 2, "--epochs"},
      {"train --data-dir {DATA} --batch-size 0", 2, "--batch-size"},
      {"train --data-dir {DATA} --batch-size -5", 2, "--batch-size"},
      {"train --data-dir {DATA} --batch-size 100000", 2, "--batch-size"},
      {"train --data-dir {DATA} --lr nan", 2, "--lr"},
      {"train --data-dir {DATA} --lr inf", 2, "--lr"},
      {"train --data-dir {DATA} --lr -1", 2, "--lr"},
      {"train --data-dir {DATA} --lr ''", 2, "--lr"},
      {"train --data-dir {DATA} --val-fraction 0", 2, "--val-fraction"},
      {"train --data-dir {DATA} --val-fraction 1.5", 2, "--val-fraction"},
      {"train --data-dir {DATA} --val-fraction nan", 2, "--val-fraction"},
      {"train --data-dir {DATA} --momentum nan", 2, "--momentum"},
      {"train --data-dir {DATA} --momentum 2", 2, "--momentum"},
      {"train --data-dir {DATA} --weight-decay -1", 2, "--weight-decay"},
      {"train --data-dir {DATA} --threads 100000", 2, "--threads"},
      {"train --data-dir {DATA} --threads -1", 2, "--threads"},
      {"train --data-dir {DATA} --seed abc", 2, "--seed"},
      {"train --data-dir {DATA} --optimizer foo", 2, "--optimizer"},
      {"train --data-dir {DATA} --optimizer adam --momentum 0.9", 2, "--momentum"},
      {"train --data-dir {DATA} --model nonsense", 2, "nonsense"},
      {"train --data-dir {DATA} --model ''", 2, "--model"},
      {"train --data-dir {DATA} --model 784-1000000-10", 2, "784-1000000-10"},
      {"train --data-dir {DATA} --model 32-10", 2, "--model"},
      {"train --data-dir {DATA} --resume {MISSING}", 1, "{MISSING}"},
      {"train --data-dir {DATA32} --batch-size 4", 2, "--model"},
      {"train --data-dir {LYING}", 1, "{LYING}"},
      {"compare --data-dir {DATA} --models foo", 2, "foo"},
      {"compare --data-dir {DATA} --models ''", 2, "--models"},
      {"compare --data-dir {DATA} --models logistic,logistic", 2, "logistic"},
      {"compare --data-dir {DATA} --epochs 0", 2, "--epochs"},
      {"plot", 2, "HISTORY"},
      {"plot {MISSING}", 2, "{MISSING}"},
      {"plot {DIR}", 2, "{DIR}"},
      {"plot {EMPTY}", 1, "{EMPTY}"},
      {"plot {TEXT}", 1, "{TEXT}"},
      {"plot {CK}", 1, "{CK}"},
      {"plot-activation", 2, "FUNCTION"},
      {"plot-activation sigmoid", 2, "sigmoid"},
      {"plot-activation relu -o {DIR}", 1, "{DIR}"},
      {"plot-activation relu -o ''", 2, "-o"},
      {"plot-activation relu -o {MISSING}/x.png", 1, "{MISSING}"},
      {"train --data-dir {DATA} --out ''", 2, "--out"},
      {"train --data-dir {DATA} --seed -1", 2, "--seed"},
      {"train --data-dir {DATA} --resume ''", 2, "--resume"},
      {"train --data-dir {DATA} --out {TEXT}", 1, "{TEXT}"},
      {"compare --data-dir {DATA} --out ''", 2, "--out"},
      {"train --data-dir {DATA} --model logistic --epochs 1 --out /proc/mnist-run", 1, "/proc/mnist-run: cannot create"},
      // train/compare/plot runs: refused before any training, nothing made or overwritten ({OUT} holds a
      // model.safetensors, so it counts as a run's directory).
      {"train --data-dir {DATA} --out {OUT}", 2, "--overwrite"},
      {"train --data-dir {DATA} --model 784-5 --out {OUT}/new", 2, "784-5"},
      {"train --resume {OUT} --overwrite", 2, "--overwrite"},
      {"compare --data-dir {DATA} --epochs 1 --models logistic,784-5 --out {OUT}/cmp", 2, "'784-5' has 5 outputs"},
      {"compare --data-dir {DATA32} --models 1024-10,logistic --batch-size 4", 2, "'logistic' takes 784 inputs"},
      // conv nets: bad specs are usage errors naming the layer; a conv checkpoint whose tensors disagree with its
      // spec is refused naming the tensor; show-filters needs a Conv2d layer, a valid index and a writable -o.
      {"train --data-dir {DATA} --model conv32k30 --out {OUT}/conv-big", 2, "kernel 30 is larger than its input"},
      {"train --data-dir {DATA} --model 784-conv8k3 --out {OUT}/conv-flat", 2, "layer 1 ('conv8k3')"},
      {"train --data-dir {DATA} --model 1x28x28-conv8k3-10 --out {OUT}/conv-lin", 2, "layer 2 ('10')"},
      {"train --data-dir {DATA} --model 1x28x28-dropout1.5-flatten-10 --out {OUT}/conv-drop", 2, "'dropout1.5'"},
      {"train --data-dir {DATA} --model 1x28x28-conv0k3-flatten-10 --out {OUT}/conv-zero", 2, "'conv0k3'"},
      {"train --data-dir {DATA} --model 1x28x28-conv4k0-flatten-10 --out {OUT}/conv-k0", 2, "'conv4k0'"},
      {"train --data-dir {DATA} --model 1x28x28-maxpool0-flatten-10 --out {OUT}/pool0", 2, "'maxpool0'"},
      {"train --data-dir {DATA} --model 1x0x28-flatten-10 --out {OUT}/in0", 2, "'1x0x28'"},
      {"compare --data-dir {DATA} --models logistic,1x28x28-conv4k3-10 --out {OUT}/cmp-conv", 2, "'1x28x28-conv4k3-10'"},
      {"evaluate {CK_CONV_SHAPE} --data-dir {DATA}", 1, "conv1.weight"},
      {"evaluate {CK_CONV_NO_VAR} --data-dir {DATA}", 1, "bn1.running_var"},
      {"evaluate {CK_CONV_F32_COUNT} --data-dir {DATA}", 1, "bn1.num_batches_tracked"},
      {"predict {CK_CONV_SHAPE} {DIGIT}", 1, "conv1.weight"},
      {"show-filters {CK} -o {OUT}/f.png --data-dir {DATA}", 2, "has no Conv2d layer"},
      {"show-filters {CK_CONV} -o {OUT}/f.png --data-dir {DATA} --index 100", 2, "--index 100"},
      {"show-filters {CK_CONV} -o {OUT}/f.png --data-dir {DATA} --index -1", 2, "--index"},
      {"show-filters {CK_CONV} -o {MISSING}/f.png --data-dir {DATA}", 1, "{MISSING}"},
      {"show-filters {CK_CONV} -o {DIR} --data-dir {DATA}", 1, "{DIR}"},
      {"show-filters {CK_CONV} -o /proc/f.png --data-dir {DATA}", 1, "/proc/f.png"},
      {"show-filters {CK_CONV} --data-dir {DATA}", 2, "--output"},
      {"show-filters {CK_CONV_SHAPE} -o {OUT}/f.png --data-dir {DATA}", 1, "conv1.weight"},
  };
  return table;
}

// A PNG with an IHDR of the given size and a tiny IDAT: what a decompression bomb's header says.
std::vector<std::uint8_t> png_header_only(std::uint32_t width, std::uint32_t height) {
  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const auto chunk = [&out](const char* type, const std::vector<std::uint8_t>& data) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(data.size() >> s));
    std::vector<std::uint8_t> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    out.insert(out.end(), body.begin(), body.end());
    const uLong crc = crc32(0, body.data(), static_cast<uInt>(body.size()));
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(crc >> s));
  };
  std::vector<std::uint8_t> ihdr;
  for (std::uint32_t v : {width, height})
    for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<std::uint8_t>(v >> s));
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit grayscale
  chunk("IHDR", ihdr);
  chunk("IDAT", {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});
  chunk("IEND", {});
  return out;
}

// The files the cases refer to, made once.
class Files {
 public:
  Files() {
    const fs::path root = dir_.path();
    set("OUT", root);
    set("MISSING", root / "missing");
    set("DIR", root / "a-directory");
    fs::create_directories(root / "a-directory");
    set("EMPTYDIR", root / "empty-dir");
    fs::create_directories(root / "empty-dir");
    write_file(set("EMPTY", root / "empty.png"), {});
    const std::string text = "just some text, not an image or a checkpoint\n";
    write_file(set("TEXT", root / "notes.png"), std::vector<std::uint8_t>(text.begin(), text.end()));
    write_file(set("UNREADABLE", root / "unreadable.safetensors"), {1, 2, 3, 4, 5, 6, 7, 8, 9});
    fs::permissions(root / "unreadable.safetensors", fs::perms::none);

    // 300 train and 100 test images of random noise with labels 0..9: a 28x28 data set, and a 32x32 one.
    std::vector<std::uint8_t> train(300 * 784), test(100 * 784), train_labels(300), test_labels(100);
    for (std::size_t i = 0; i < train.size(); ++i) train[i] = static_cast<std::uint8_t>(i * 7919 % 251);
    for (std::size_t i = 0; i < test.size(); ++i) test[i] = static_cast<std::uint8_t>(i * 104729 % 241);
    for (std::size_t i = 0; i < 300; ++i) train_labels[i] = static_cast<std::uint8_t>(i % 10);
    for (std::size_t i = 0; i < 100; ++i) test_labels[i] = static_cast<std::uint8_t>(i % 10);
    write_dataset_dir(set("DATA", root / "data"), 28, 28, train, train_labels, test, test_labels);
    std::vector<std::uint8_t> big(20 * 1024, 9), big_labels(20, 3);
    write_dataset_dir(set("DATA32", root / "data32"), 32, 32, big, big_labels, big, big_labels);
    // IDX headers claiming 10^9 images of 28x28 in files of a few bytes.
    fs::create_directories(set("LYING", root / "lying"));
    for (const char* split : {"train", "t10k"}) {
      write_file(root / "lying" / (std::string(split) + "-images-idx3-ubyte"), idx_bytes(0x08, {1000000000, 28, 28}, {1, 2, 3}));
      write_file(root / "lying" / (std::string(split) + "-labels-idx1-ubyte"), idx_bytes(0x08, {1000000000}, {1, 2, 3}));
    }

    // Checkpoints: with metadata (fashion-mnist), a bare PyTorch state dict, truncated, of another input size.
    Model model = make_model("hidden-relu", 1);
    const std::map<std::string, std::string> meta = {{"dataset", "fashion-mnist"}, {"input_shape", "[1, 28, 28]"}};
    save_checkpoint(set("CK", root / "model.safetensors"), model, meta);
    save_checkpoint(set("CK_CUSTOM", root / "custom.safetensors"), model, {{"dataset", "custom"}});
    SafetensorsWriter bare;
    for (const NamedParameter& p : model.named_parameters()) bare.add(p.name, p.shape, std::span<const float>(p.value));
    bare.save(set("BARE", root / "torch.safetensors"));
    std::vector<std::uint8_t> whole = read_file(root / "model.safetensors");
    whole.resize(whole.size() / 2);
    write_file(set("TRUNCATED_CK", root / "truncated.safetensors"), whole);
    Model wide = make_model("1024-32-10", 1);
    save_checkpoint(set("CK32", root / "model32.safetensors"), wide, {{"input_shape", "[1, 32, 32]"}});
    Model other = make_model("784-32-8", 1);  // 8 classes: the data has labels up to 9
    save_checkpoint(set("CK_8_CLASSES", root / "model-8-classes.safetensors"), other, {});
    (void)other;

    // checkpoint contents: a state dict whose layer is 0 wide, a checkpoint recording dataset "../../etc", a JSON
    // file given as a model, and --resume directories whose resume.safetensors records a model that
    // model.safetensors (hidden-relu) does not hold (98 million parameters: 800 MB if built) or no valid model.
    SafetensorsWriter zero_width;
    zero_width.add("layer1.weight", {0, 784}, std::span<const float>());
    zero_width.add("layer1.bias", {0}, std::span<const float>());
    zero_width.save(set("CK_ZERO_WIDTH", root / "zero-width.safetensors"));
    save_checkpoint(set("CK_BAD_DATASET", root / "bad-dataset.safetensors"), model, {{"dataset", "../../etc"}});
    const std::string json = "{\"model\": \"hidden-relu\", \"dataset\": \"mnist\"}\n";
    write_file(set("JSON_MODEL", root / "model.json"), std::vector<std::uint8_t>(json.begin(), json.end()));
    for (const auto& [name, spec] : std::vector<std::pair<std::string, std::string>>{
             {"RESUME_HUGE", "784-125000-10"}, {"RESUME_BAD_SPEC", "784-0-10"}}) {
      const fs::path run = set(name, root / ("resume-" + spec));
      fs::create_directories(run);
      save_checkpoint(run / "model.safetensors", model, {{"epochs_completed", "1"}});
      SGD sgd(model, SgdOptions{.lr = 0.1});
      const std::map<std::string, std::string> settings = {
          {"model", spec}, {"dataset", "mnist"},     {"epochs", "2"},        {"lr", "0.1"},  {"batch_size", "16"},
          {"optimizer", "sgd"}, {"momentum", "0"}, {"weight_decay", "0"}, {"seed", "1"}, {"val_fraction", "0.1"}};
      save_resume_state(run / "resume.safetensors", sgd, ResumeState{1, {EpochStats{}}, settings});
    }

    // A tiny conv net with BatchNorm, and copies of its state dict that disagree with its spec: conv1.weight of
    // the wrong shape, bn1.running_var missing, num_batches_tracked stored as F32.
    const std::string conv_spec = "1x28x28-conv4k3p1-bn-relu-maxpool2-flatten-10";
    Model conv = make_model(conv_spec, 1);
    save_checkpoint(set("CK_CONV", root / "conv.safetensors"), conv, {});
    for (const std::string& flaw : {"SHAPE", "NO_VAR", "F32_COUNT"}) {
      SafetensorsWriter w;
      w.set_metadata("model", conv_spec);
      std::size_t p = 0;
      std::vector<NamedParameter> params = conv.named_parameters();
      std::vector<NamedBuffer> buffers = conv.named_buffers();
      std::size_t b = 0;
      for (const StateEntry& e : conv.state_entries()) {
        if (e.parameter) {
          const NamedParameter& np = params[p++];
          if (flaw == "SHAPE" && np.name == "conv1.weight")
            w.add(np.name, {4, 1, 9}, std::span<const float>(np.value));
          else
            w.add(np.name, np.shape, std::span<const float>(np.value));
          continue;
        }
        const NamedBuffer& nb = buffers[b++];
        if (flaw == "NO_VAR" && nb.name == "bn1.running_var") continue;
        if (!nb.count.empty()) {
          if (flaw == "F32_COUNT") {
            const float one = 1.0f;
            w.add(nb.name, nb.shape, std::span<const float>(&one, 1));
          } else {
            w.add(nb.name, nb.shape, std::span<const std::int64_t>(nb.count));
          }
        } else {
          w.add(nb.name, nb.shape, std::span<const float>(nb.value));
        }
      }
      w.save(set("CK_CONV_" + flaw, root / ("conv-" + flaw + ".safetensors")));
    }

    // Images: a digit-like blob, 1x1, blank, 30x30, a header of 20000x20000, a truncated PNG, a fake JPEG.
    GrayImage digit{28, 28, std::vector<std::uint8_t>(784, 0)};
    for (std::size_t r = 6; r < 22; ++r)
      for (std::size_t c = 12; c < 16; ++c) digit.pixels[r * 28 + c] = 255;
    write_png(set("DIGIT", root / "digit.png"), digit);
    write_png(set("ONE_BY_ONE", root / "one.png"), GrayImage{1, 1, {255}});
    write_png(set("BLANK", root / "blank.png"), GrayImage{40, 40, std::vector<std::uint8_t>(1600, 255)});
    write_png(set("BIG_30", root / "thirty.png"), GrayImage{30, 30, std::vector<std::uint8_t>(900, 0)});
    write_file(set("HUGE", root / "huge.png"), png_header_only(20000, 20000));
    std::vector<std::uint8_t> png = read_file(root / "digit.png");
    png.resize(png.size() / 2);
    write_file(set("TRUNCATED_PNG", root / "truncated.png"), png);
    write_file(set("FAKE_JPEG", root / "fake.jpg"), {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, 3});

    // A FIFO (nothing ever writes to it), and a data directory whose training images are one.
    if (::mkfifo(set("FIFO", root / "a-fifo").c_str(), 0644) != 0) throw std::runtime_error("mkfifo failed");
    fs::create_directories(set("FIFO_DATA", root / "fifo-data"));
    fs::copy(root / "data", root / "fifo-data", fs::copy_options::recursive);
    for (const fs::directory_entry& e : fs::directory_iterator(root / "fifo-data"))
      if (e.path().filename().string().starts_with("train-images")) {
        fs::remove(e.path());
        if (::mkfifo(e.path().c_str(), 0644) != 0) throw std::runtime_error("mkfifo failed");
      }
    set("OUT_NAME", root.filename());
  }

  std::string expand(std::string text) const {
    for (const auto& [name, path] : paths_) {
      const std::string key = "{" + name + "}";
      for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + path.size()))
        text.replace(at, key.size(), path);
    }
    return text;
  }

 private:
  fs::path set(const std::string& name, const fs::path& path) {
    paths_.emplace_back(name, path.string());
    return path;
  }
  TempDir dir_;
  std::vector<std::pair<std::string, std::string>> paths_;
};

class CliBadInput : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() { files_ = new Files(); }
  static void TearDownTestSuite() {
    delete files_;
    files_ = nullptr;
  }
  static Files* files_;
};
Files* CliBadInput::files_ = nullptr;

TEST_P(CliBadInput, Refuses) {
  const Case& c = GetParam();
  if (c.args.find("{UNREADABLE}") != std::string::npos && geteuid() == 0)
    GTEST_SKIP() << "running as root: every file is readable";
  const std::string args = files_->expand(c.args);
  const std::string culprit = files_->expand(c.culprit);
  // The empty data directory of ./data is never searched: the cases run in a fresh directory.
  TempDir cwd;
  const CliRun run = run_cli(args, 30, cwd.path().string());
  std::string message = run.err;
  if (!message.empty() && message.back() == '\n') message.pop_back();
  // The audit table, in the test log: input -> exit code -> message.
  std::cout << "[audit] mnist " << c.args.substr(0, 120) << " -> " << run.code << " -> " << message.substr(0, 300)
            << "\n";
  EXPECT_EQ(run.code, c.code) << args << "\n" << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << "one line on stderr: " << run.err;
  const char* prefix = c.code == 2 ? "mnist: usage error: " : "mnist: error: ";
  EXPECT_EQ(run.err.rfind(prefix, 0), 0u) << run.err;
  EXPECT_NE(run.err.find(culprit), std::string::npos) << "the message should name " << culprit << ": " << run.err;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string name = std::to_string(info.index) + "_" + info.param.args.substr(0, 60);
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(BadInput, CliBadInput, ::testing::ValuesIn(cases()), case_name);

// A large but valid photo is processed, not refused, and in reasonable time.
TEST(CliBadInputLimits, LargeValidImageIsPredictedQuickly) {
  TempDir dir;
  GrayImage page{4000, 3000, std::vector<std::uint8_t>(4000 * 3000, 250)};
  for (std::size_t r = 500; r < 2500; ++r)
    for (std::size_t c = 1800; c < 2200; ++c) page.pixels[r * 4000 + c] = 20;  // a dark "1" on white paper
  write_png(dir / "photo.png", page);
  Model model = make_model("hidden-relu", 1);
  save_checkpoint(dir / "model.safetensors", model, {});
  const CliRun run = run_cli("predict " + quoted(dir / "model.safetensors") + " " + quoted(dir / "photo.png"), 30);
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("Predicted: "), std::string::npos) << run.out;
}

}  // namespace
