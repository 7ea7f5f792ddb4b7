// Fetching files over HTTP(S) with libcurl, verified by MD5, written atomically.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace mnist {

/// How download_file behaves on a slow network and whether it shows progress.
struct DownloadOptions {
  long connect_timeout_seconds = 15;  ///< seconds; give up on a mirror that does not answer
  long stall_timeout_seconds = 30;    ///< seconds; give up when less than 1 kB/s arrives for this long
  bool progress = false;              ///< draw a progress bar on stderr
};

/// Default options: the progress bar is on when stderr is a terminal.
DownloadOptions default_download_options();

/// Downloads `file_name` from the first mirror that serves it with the expected MD5 (base URL + file_name) into
/// target_dir/file_name. Each attempt writes a temporary file that is renamed only after the MD5 matched, so a
/// failed or corrupt download leaves nothing behind. When every mirror fails, throws Error naming the file, each
/// URL tried and why it failed. An empty expected_md5 skips the check.
void download_file(const std::vector<std::string>& mirrors, const std::string& file_name,
                   const std::string& expected_md5, const std::filesystem::path& target_dir,
                   const DownloadOptions& options = default_download_options());

/// MD5 as 32 lowercase hex digits (OpenSSL's implementation).
std::string md5_hex(std::span<const std::uint8_t> bytes);
/// MD5 of a file's contents as 32 lowercase hex digits, read in chunks; throws Error naming an unreadable file.
std::string md5_hex_file(const std::filesystem::path& path);

}  // namespace mnist
