#pragma once
// The kernel of overhead/dispatch, overhead/dispatch_work and overhead/idle: W chunks of one element each, every
// element spinning for `task` (zero: an empty task). Total: the element count.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "harness.hpp"

namespace parbench::bench {

struct spin_tasks {
    using result = std::uint64_t;
    static constexpr std::string_view name = "spin_tasks";
    std::chrono::nanoseconds task{0};

    [[nodiscard]] result run(chunk c) const noexcept {
        if (task.count() > 0)
            for (std::uint64_t i = c.begin; i < c.end; ++i) detail::spin_for(task);
        return c.size();
    }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept { return n; }
};
static_assert(kernel<spin_tasks>);

}  // namespace parbench::bench
