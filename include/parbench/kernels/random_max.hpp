#pragma once
// random_max: the max of n random doubles in [0, 1) (seed 002 in docs/seeds.md). Element i's value is splitmix64(i +
// key * 2^40), so the total is the same however [0, n) is cut, and keys give disjoint streams for n < 2^40 (key 0 is
// plain splitmix64(i), which tools/cpython_reference.py computes too). Like the seed's list comprehension, each chunk
// materialises its values into a buffer before taking the max: the allocation and the memory traffic are part of the
// work. The buffer is fresh pages mapped for the chunk and unmapped after it, so every strategy pays one page fault
// per page of values however [0, n) is cut (malloc would reuse small buffers and map large ones anew, so faults would
// follow the chunk size), and no buffer outlives the run. Peak RSS shows the materialised values.

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "../blocking.hpp"
#include "../chunk.hpp"
#include "../detail/shm.hpp"
#include "../detail/splitmix.hpp"

namespace parbench::kernels {

struct random_max {
    using result = double;  // the max; 0.0 for an empty range (all values are >= 0, so it is max's identity)
    static constexpr std::string_view name = "random_max";

    std::uint64_t key = 0;

    [[nodiscard]] double value(std::uint64_t i) const noexcept {
        return detail::to_unit_double(detail::splitmix64(i + (key << 40)));
    }
    [[nodiscard]] result run(chunk c) const {
        if (c.empty()) return 0.0;
        const detail::private_mapping buffer(c.size() * sizeof(double));
        double* const values = static_cast<double*>(buffer.data());
        in_slices(c, [&](chunk s) {
            for (std::uint64_t i = s.begin; i < s.end; ++i) values[i - c.begin] = value(i);
        });
        return *std::max_element(values, values + c.size());
    }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a < b ? b : a; }
    // No closed form: the oracle is the same generator, read once, without a buffer.
    [[nodiscard]] result expected(std::uint64_t n) const noexcept {
        double best = 0.0;
        for (std::uint64_t i = 0; i < n; ++i) best = std::max(best, value(i));
        return best;
    }
};

}  // namespace parbench::kernels
