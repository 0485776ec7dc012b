#pragma once
// A chunk is a half-open range [begin, end) of element indices; split() cuts [0, n) into balanced chunks.

#include <cstdint>
#include <vector>

namespace parbench {

struct chunk {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;

    [[nodiscard]] constexpr std::uint64_t size() const noexcept { return end - begin; }
    [[nodiscard]] constexpr bool empty() const noexcept { return begin == end; }
    friend constexpr bool operator==(chunk, chunk) = default;
};

// The i-th of `parts` balanced chunks of [0, n): the first n % parts chunks get one element more, so sizes
// differ by at most one. parts > n gives empty chunks at the end. Requires i < parts and parts > 0.
[[nodiscard]] constexpr chunk chunk_of(std::uint64_t n, std::uint64_t parts, std::uint64_t i) noexcept {
    const std::uint64_t base = n / parts;
    const std::uint64_t extra = n % parts;
    const std::uint64_t begin = i * base + (i < extra ? i : extra);
    return {begin, begin + base + (i < extra ? 1 : 0)};
}

// All `parts` chunks of [0, n); parts == 0 gives no chunks.
[[nodiscard]] inline std::vector<chunk> split(std::uint64_t n, std::uint64_t parts) {
    std::vector<chunk> chunks;
    chunks.reserve(parts);
    for (std::uint64_t i = 0; i < parts; ++i) chunks.push_back(chunk_of(n, parts, i));
    return chunks;
}

}  // namespace parbench
