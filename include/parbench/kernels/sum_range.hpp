#pragma once
// sum_range: the sum of i over [0, n) (seed 003 in docs/seeds.md). Arithmetic is modulo 2^64: exact for n <= 2^32 (the
// sum is below 2^63), and beyond that every strategy and the oracle wrap identically, because modular addition is
// associative and commutative and the oracle computes n(n-1)/2 modulo 2^64 exactly.

#include <cstdint>
#include <string_view>

#include "../blocking.hpp"
#include "../chunk.hpp"
#include "../keep.hpp"

namespace parbench::kernels {

struct sum_range {
    using result = std::uint64_t;
    static constexpr std::string_view name = "sum_range";

    [[nodiscard]] result run(chunk c) const noexcept {
        result sum = 0;
        in_slices(c, [&](chunk s) {
            for (std::uint64_t i = s.begin; i < s.end; ++i) {
                keep(sum);
                sum += i;
            }
        });
        return sum;
    }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept {
        if (n == 0) return 0;
        // Halve whichever of n, n-1 is even first: the product is then n(n-1)/2 modulo 2^64 exactly.
        return n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
    }
};

}  // namespace parbench::kernels
