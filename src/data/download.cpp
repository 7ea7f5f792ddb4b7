// Downloads with libcurl: each mirror in turn, streamed to a temporary file while its MD5 is computed, renamed
// into place only when the MD5 matches.
#include "mnist/download.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "mnist/error.hpp"
#include "util/files.hpp"

namespace fs = std::filesystem;

namespace mnist {
namespace {

// Incremental MD5 through OpenSSL's EVP interface.
class Md5 {
 public:
  Md5() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr) != 1) throw Error("cannot initialise MD5");
  }
  void update(const void* data, std::size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &length);
    std::string out;
    for (unsigned i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

// What the write callback needs: the open temporary file and the running MD5.
struct Sink {
  std::FILE* file = nullptr;
  Md5 md5;
  bool write_failed = false;
};

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, sink->file) != bytes) {
    sink->write_failed = true;
    return 0;  // makes curl abort the transfer
  }
  sink->md5.update(data, bytes);
  return bytes;
}

// The progress bar's state: redrawn only when the shown value changes, not on every callback.
struct Progress {
  std::string name;
  curl_off_t last_shown = -1;
};

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* progress = static_cast<Progress*>(user);
  if (now == 0) return 0;  // nothing to show yet (and nothing at all for an HTTP error)
  curl_off_t shown = total > 0 ? 1000 * now / total : now / 100000;
  if (shown == progress->last_shown) return 0;
  progress->last_shown = shown;
  const std::string* name = &progress->name;
  if (total > 0) {
    int width = 30;
    auto filled = static_cast<int>(width * now / total);
    bool megabytes = total >= 1000000;
    std::fprintf(stderr, "\r%-28s [%s%s] %5.1f%% of %.1f %s", name->c_str(), std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), 100.0 * static_cast<double>(now) / static_cast<double>(total),
                 static_cast<double>(total) / (megabytes ? 1e6 : 1e3), megabytes ? "MB" : "kB");
  } else {
    std::fprintf(stderr, "\r%-28s %.1f MB", name->c_str(), static_cast<double>(now) / 1e6);
  }
  std::fflush(stderr);
  return 0;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string with_slash(const std::string& base) { return !base.empty() && base.back() == '/' ? base : base + "/"; }

// One attempt: url -> target (atomically). Throws Error with the reason on any failure.
void fetch(const std::string& url, const std::string& file_name, const std::string& expected_md5,
           const fs::path& target, const DownloadOptions& options) {
  util::replace_file_atomically(target, [&](const fs::path& temp) {
    Sink sink;
    sink.file = std::fopen(temp.c_str(), "wb");
    if (!sink.file) throw Error(fmt::format("cannot write {}: {}", temp.string(), std::strerror(errno)));
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) {
      std::fclose(sink.file);
      throw Error("cannot initialise libcurl");
    }
    char curl_error[CURL_ERROR_SIZE] = "";
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);  // libcurl's default follows a redirect loop forever
    // Only web protocols, also after a redirect: a hostile mirror cannot reach file://, ftp:// and the like.
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);  // HTTP >= 400 is an error, not a body to save
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
    // A stall: less than 1 kB/s for stall_timeout_seconds (a server trickling a few bytes a second would
    // otherwise never be given up on; every real mirror is far faster).
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_seconds);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mnist/0.1 (libcurl)");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    Progress progress{file_name};
    if (options.progress) {
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, &progress);
    }
    CURLcode rc = curl_easy_perform(c);
    if (options.progress) std::fputc('\n', stderr);
    bool close_failed = std::fclose(sink.file) != 0;
    if (sink.write_failed || close_failed) throw Error(fmt::format("cannot write {}", temp.string()));
    if (rc != CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      if (rc == CURLE_HTTP_RETURNED_ERROR && status) throw Error(fmt::format("HTTP {}", status));
      throw Error(curl_error[0] ? curl_error : curl_easy_strerror(rc));
    }
    if (!expected_md5.empty()) {
      std::string got = sink.md5.hex();
      if (got != expected_md5) throw Error(fmt::format("MD5 {} does not match the published {}", got, expected_md5));
    }
  });
}

}  // namespace

DownloadOptions default_download_options() {
  DownloadOptions options;
  options.progress = ::isatty(STDERR_FILENO) == 1;
  return options;
}

void download_file(const std::vector<std::string>& mirrors, const std::string& file_name,
                   const std::string& expected_md5, const fs::path& target_dir, const DownloadOptions& options) {
  global_init();
  if (mirrors.empty()) throw UsageError(fmt::format("cannot download {}: no mirror given", file_name));
  std::string failures;
  for (const auto& mirror : mirrors) {
    std::string url = with_slash(mirror) + file_name;
    try {
      fetch(url, file_name, expected_md5, target_dir / file_name, options);
      return;
    } catch (const Error& e) {
      failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", url, e.what());
    }
  }
  throw Error(fmt::format("cannot download {} into {}: {}", file_name, target_dir.string(), failures));
}

std::string md5_hex(std::span<const std::uint8_t> bytes) {
  Md5 md5;
  md5.update(bytes.data(), bytes.size());
  return md5.hex();
}

std::string md5_hex_file(const fs::path& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) throw Error(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
  Md5 md5;
  std::vector<char> buffer(1 << 16);
  std::size_t got;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) md5.update(buffer.data(), got);
  if (std::ferror(file.get())) throw Error(fmt::format("{}: read error", path.string()));
  return md5.hex();
}

}  // namespace mnist
