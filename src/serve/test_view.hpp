// GET /api/test: how the model does on the test split of its data set (when it is on this machine), for the page's
// second view: accuracy, the confusion matrix, and a grid of images with their predictions, mistakes first.
#pragma once
#include <cstddef>
#include <string>

#include "mnist/dataset.hpp"
#include "serve/model_service.hpp"

namespace mnist::serve {

/// {"dataset", "total", "correct", "accuracy", "confusion": [true][predicted] counts, "samples": [{"index", "label",
/// "predicted", "probability", "pixels": base64 of rows*cols bytes}]}: the first `shown` samples are every
/// misclassified image (most confident mistakes first) and then correct ones, in test order.
std::string test_view_json(Predictor& predictor, const ModelInfo& model, const Dataset& test, std::size_t shown = 120);

}  // namespace mnist::serve
