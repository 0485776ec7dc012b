#pragma once
// uneven.triangular and uneven.heavy_tail: work whose cost differs from item to item, for comparing static
// chunking (W equal ranges of items) with dynamic scheduling (small chunks handed out as workers free up).
// Item i costs cost(i) units; a unit is one increment behind an optimisation barrier. The total is the sum of the
// costs, modulo 2^64, so that every strategy and the oracle agree however [0, n) was cut.
// - triangular: item i costs i + 1 units. Static halves of [0, n) give 2 workers at most 4/3 of one's speed,
//   since the second half holds three quarters of the work; dynamic scheduling approaches 2.
// - heavy_tail: items come in blocks of 64; about one block in 32, chosen by a fixed hash of its index, costs
//   100 times as much per item as the rest. A static range that happens to hold more heavy blocks finishes last.

#include <cstdint>
#include <string_view>

#include "../blocking.hpp"
#include "../chunk.hpp"
#include "../detail/splitmix.hpp"
#include "../keep.hpp"

namespace parbench::kernels {

namespace uneven_detail {

// Runs cost(i) units for every item of c; the units done, modulo 2^64.
template <class Cost>
[[nodiscard]] std::uint64_t run_units(chunk c, Cost cost) noexcept {
    std::uint64_t done = 0;
    in_slices(c, [&](chunk s) {
        for (std::uint64_t i = s.begin; i < s.end; ++i)
            for (std::uint64_t u = cost(i); u > 0; --u) {
                keep(done);
                ++done;
            }
    });
    return done;
}

}  // namespace uneven_detail

struct uneven_triangular {
    using result = std::uint64_t;
    static constexpr std::string_view name = "uneven.triangular";
    static constexpr bool uneven = true;  // the matrix runs the dynamic-scheduling strategies on it in every profile

    [[nodiscard]] static constexpr std::uint64_t cost(std::uint64_t i) noexcept { return i + 1; }
    [[nodiscard]] result run(chunk c) const noexcept { return uneven_detail::run_units(c, cost); }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    // n(n+1)/2 modulo 2^64: halve whichever of n, n+1 is even first.
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept {
        return n % 2 == 0 ? (n / 2) * (n + 1) : n * ((n + 1) / 2);
    }
};

struct uneven_heavy_tail {
    using result = std::uint64_t;
    static constexpr std::string_view name = "uneven.heavy_tail";
    static constexpr bool uneven = true;
    static constexpr std::uint64_t block = 64;   // items per block
    static constexpr std::uint64_t one_in = 32;  // about one block in this many is heavy
    static constexpr std::uint64_t light = 16;   // units per item of a light block
    static constexpr std::uint64_t heavy = 100 * light;

    [[nodiscard]] static constexpr bool heavy_block(std::uint64_t b) noexcept {
        return parbench::detail::splitmix64(b) % one_in == 0;
    }
    [[nodiscard]] static constexpr std::uint64_t cost(std::uint64_t i) noexcept {
        return heavy_block(i / block) ? heavy : light;
    }
    [[nodiscard]] result run(chunk c) const noexcept { return uneven_detail::run_units(c, cost); }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    // Per block rather than per item: the items of a block cost the same.
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept {
        result total = 0;
        for (std::uint64_t b = 0; b * block < n; ++b) {
            const std::uint64_t items = n - b * block < block ? n - b * block : block;
            total += items * (heavy_block(b) ? heavy : light);
        }
        return total;
    }
};

}  // namespace parbench::kernels
