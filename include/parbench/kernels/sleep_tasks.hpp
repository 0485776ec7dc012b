#pragma once
// sleep_tasks: n tasks that each sleep, then return i + 1 (seed 004 in docs/seeds.md). This is I/O-bound work: a worker
// that sleeps gives its core away, so more workers than cores still pay.

#include <chrono>
#include <cstdint>
#include <string_view>
#include <thread>

#include "../blocking.hpp"
#include "../chunk.hpp"
#include "../io_loop.hpp"

namespace parbench::kernels {

struct sleep_tasks {
    using result = std::uint64_t;
    static constexpr std::string_view name = "sleep_tasks";

    std::chrono::microseconds duration{1000};

    [[nodiscard]] result run(chunk c) const {
        result sum = 0;
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            block(duration);
            sum += i + 1;
        }
        return sum;
    }
    // On an io_loop (the event_loop strategy): each sleep gives the thread away.
    [[nodiscard]] async_task<result> run_async(chunk c, io_loop& loop) const {
        result sum = 0;
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            co_await loop.sleep_for(duration);
            sum += i + 1;
        }
        co_return sum;
    }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept { return n * (n + 1) / 2; }

    // The blocking call. A strategy that models an interpreter lock releases it here, as CPython does around
    // time.sleep.
    static void block(std::chrono::microseconds d) {
        blocking_scope blocking;
        std::this_thread::sleep_for(d);
    }
};

}  // namespace parbench::kernels
