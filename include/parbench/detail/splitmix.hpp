#pragma once
// splitmix64 as a counter-based generator: the value of element i is a pure function of i (and a key), so
// totals do not depend on which worker produced which element.

#include <cstdint>

namespace parbench::detail {

[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    std::uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// A double in [0, 1) from the top 53 bits, like Python's random.random().
[[nodiscard]] constexpr double to_unit_double(std::uint64_t bits) noexcept {
    return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace parbench::detail
