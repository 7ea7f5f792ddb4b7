// One PLplot figure rendered to a PNG through the cairo driver, written atomically. Internal to the io layer.
#pragma once
#include <plplot/plstream.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>

namespace mnist::io {

// Colour-map-0 indices set up by render_png for every figure.
inline constexpr PLINT kWhite = 0;      // background
inline constexpr PLINT kBlack = 1;      // axes, text
inline constexpr PLINT kGrid = 2;       // light grey grid lines
inline constexpr PLINT kFrame = 3;      // mid grey legend frame
inline constexpr PLINT kFirstSeries = 4;  // series i uses kFirstSeries + i % kSeriesColours
inline constexpr int kSeriesColours = 10;

/// Creates a fresh plstream on a width x height pngcairo page (white background, black foreground, a ten-colour
/// palette from matplotlib's "tab10" for series), calls draw, ends the stream and renames the PNG into place.
/// Calls are serialised by a process-wide lock. Throws mnist::Error naming png when it cannot be written or
/// PLplot reports a problem; nothing is left at png or beside it then.
void render_png(const std::filesystem::path& png, int width, int height,
                const std::function<void(plstream&)>& draw);

/// A grey ramp from black (0) to white (255) as colour map 1, for images drawn with plstream::image.
void use_gray_colormap(plstream& pls);

}  // namespace mnist::io
