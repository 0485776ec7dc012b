#pragma once
// count: increment a counter once per element (seeds 000 and 001 in docs/seeds.md). keep() keeps
// every increment.

#include <cstdint>
#include <string_view>

#include "../blocking.hpp"
#include "../chunk.hpp"
#include "../keep.hpp"

namespace parbench::kernels {

struct count {
    using result = std::uint64_t;
    static constexpr std::string_view name = "count";

    [[nodiscard]] result run(chunk c) const noexcept {
        result counter = 0;
        in_slices(c, [&](chunk s) {
            for (std::uint64_t i = s.begin; i < s.end; ++i) {
                keep(counter);
                ++counter;
            }
        });
        return counter;
    }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept { return n; }
};

}  // namespace parbench::kernels
