#include "io/jpeg_codec.hpp"

// jpeglib.h needs size_t and FILE declared first.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <csetjmp>
#include <string>

#include "io/image_checks.hpp"
#include "mnist/error.hpp"

namespace mnist::io {
namespace {

// libjpeg's error_exit must not return. It longjmps back into read_header/read_pixels below, whose frames hold
// nothing but plain C data between setjmp and the libjpeg calls, so the jump skips no C++ destructor.
struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void on_jpeg_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings (level -1) about missing or damaged data would otherwise give a silently grey-filled image:
// treat them as errors. Other warnings and all trace messages are dropped instead of printed on stderr.
extern "C" void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC) on_jpeg_error(cinfo);
}

extern "C" void on_jpeg_output(j_common_ptr) {}

// Owns the decompressor; destroying it releases libjpeg's memory whatever path we leave by.
struct JpegDecoder {
  jpeg_decompress_struct cinfo{};
  JpegErrorManager err{};
  bool created = false;
  JpegDecoder() = default;
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  ~JpegDecoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

bool read_header(JpegDecoder& d, const std::uint8_t* data, std::size_t size) {
  d.cinfo.err = jpeg_std_error(&d.err.pub);
  d.err.pub.error_exit = on_jpeg_error;
  d.err.pub.emit_message = on_jpeg_message;
  d.err.pub.output_message = on_jpeg_output;
  if (setjmp(d.err.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  d.created = true;
  d.cinfo.mem->max_memory_to_use = 512L << 20;
  jpeg_mem_src(&d.cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&d.cinfo, TRUE);
  return true;
}

bool read_pixels(JpegDecoder& d, std::uint8_t* pixels, std::size_t width, std::size_t height) {
  if (setjmp(d.err.jump)) return false;
  d.cinfo.out_color_space = JCS_GRAYSCALE;
  jpeg_start_decompress(&d.cinfo);
  while (d.cinfo.output_scanline < height) {
    JSAMPROW row = pixels + static_cast<std::size_t>(d.cinfo.output_scanline) * width;
    jpeg_read_scanlines(&d.cinfo, &row, 1);
  }
  jpeg_finish_decompress(&d.cinfo);
  return true;
}

}  // namespace

bool looks_like_jpeg(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

GrayImage decode_jpeg(std::span<const std::uint8_t> bytes, std::string_view name) {
  JpegDecoder d;
  if (!read_header(d, bytes.data(), bytes.size()))
    throw Error(std::string(name) + ": corrupt JPEG: " + d.err.message);
  check_image_size(d.cinfo.image_width, d.cinfo.image_height, name);
  if (d.cinfo.jpeg_color_space == JCS_CMYK || d.cinfo.jpeg_color_space == JCS_YCCK)
    throw Error(std::string(name) + ": CMYK JPEG is not supported; save it as RGB or grayscale");
  GrayImage out;
  out.width = d.cinfo.image_width;
  out.height = d.cinfo.image_height;
  out.pixels.resize(out.width * out.height);
  if (!read_pixels(d, out.pixels.data(), out.width, out.height))
    throw Error(std::string(name) + ": corrupt or truncated JPEG: " + d.err.message);
  return out;
}

}  // namespace mnist::io
