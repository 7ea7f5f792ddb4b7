// POST /api/predict's body -> the pixels the model sees, and the answer -> JSON. Pure functions (no HTTP), so that
// every refusal is tested directly.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "serve/model_service.hpp"

namespace mnist::serve {

/// Largest request body accepted (413 above).
inline constexpr std::size_t kMaxBodyBytes = 2u << 20;
/// Largest width or height of an uploaded image, checked in its header before it is decoded (a 2 MB PNG can claim
/// gigapixels).
inline constexpr std::size_t kMaxUploadSide = 4096;

/// A request the server refuses: the HTTP status (400, 415) and a one-line message.
struct BadRequest : std::runtime_error {
  int status;
  BadRequest(int status_code, const std::string& message) : std::runtime_error(message), status(status_code) {}
};

/// The image [rows * cols] bytes (white on black, as MNIST) that the model is asked about:
///   image/png, image/jpeg: decoded and preprocessed exactly as `mnist predict IMAGE` does (read_image +
///     preprocess_digit); the model must take 28x28 images;
///   application/json {"pixels": [rows * cols integers 0..255]}: row-major, used as is.
/// content_type may carry parameters ("application/json; charset=utf-8"). Throws BadRequest.
std::vector<std::uint8_t> request_pixels(std::string_view content_type, std::string_view body, const ModelInfo& model);

/// {"label": k, "class": "name", "probabilities": [...], "pixels": [...]}: the probabilities at full float precision
/// (shortest text that reads back to the same float), pixels what the model saw.
std::string prediction_json(std::span<const float> probabilities, std::span<const std::uint8_t> pixels,
                            const ModelInfo& model);

/// {"error": "message"}
std::string error_json(std::string_view message);

/// GET /api/model: {"spec", "dataset", "classes", "input": [C, H, W], "parameters", "training"} (training: the
/// weights are being trained, train --serve).
std::string model_json(const ModelInfo& model, bool training);

/// (width, height) from a PNG's IHDR or a JPEG's SOF segment, without decoding; {0, 0} when the header is not found.
std::pair<std::size_t, std::size_t> image_header_size(std::string_view bytes);

}  // namespace mnist::serve
