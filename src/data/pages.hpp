// Page sizes for the image bytes. Training reads them at random places, a new page for nearly every image; on 4 KiB
// pages most of those reads first wait for a page walk (a nested one under a hypervisor), which also stalls the
// gather's prefetches. Measured in pairs on the same machine (bench/huge_pages_bench.cpp): 2 MiB pages take 5-15%
// off a 10-epoch training run on one thread.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace mnist::data {

enum class Pages { Huge, Small };

/// Advises the 2 MiB-aligned interior of [data, data + bytes) towards huge pages (Linux backs it with them where it
/// can: transparent_hugepage "madvise" or "always") or away from them. Effective only before the bytes are first
/// touched; elsewhere, and for buffers too small to hold an aligned 2 MiB, it does nothing.
void advise_pages(void* data, std::size_t bytes, Pages pages);

/// The value of `field` ("AnonHugePages", "VmFlags", ...) for the mapping that holds `p`, read from
/// /proc/self/smaps; "" when there is none. For tests and benchmarks. (The advice splits a buffer's mapping: ask about
/// an address inside its aligned interior, not its first byte.)
std::string mapping_field(const void* p, std::string_view field);

}  // namespace mnist::data
