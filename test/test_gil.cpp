// The interpreter-lock model: hand-over on request (no starvation), forced switching, release around blocking
// calls and contended locks, the eval-breaker hook, and gil_threads' totals at any switch interval. Totals and
// errors for every kernel and worker count come from the typed tests (test/conformance.hpp).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <thread>

#include "parbench/detail/gil.hpp"
#include "parbench/parbench.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using parbench::detail::gil;

// Spins until flag is set or 30 s pass (then the test fails instead of hanging).
bool wait_for(const std::atomic<bool>& flag) {
    const auto deadline = clock_type::now() + 30s;
    while (!flag.load()) {
        if (clock_type::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

TEST(gil, eval_breaker_without_an_interpreter_does_nothing) {
    parbench::detail::eval_breaker();
    std::uint64_t seen = 0;
    unsigned slices = 0;
    parbench::in_slices({5, 5 + 3 * parbench::eval_breaker_interval + 1}, [&](parbench::chunk s) {
        EXPECT_LE(s.size(), parbench::eval_breaker_interval);
        seen += s.size();
        ++slices;
    });
    EXPECT_EQ(seen, 3 * parbench::eval_breaker_interval + 1);
    EXPECT_EQ(slices, 4u);
}

// A thread that holds the lock and only ever checks the eval breaker (a Python loop that never blocks) must
// hand it to a waiter within a bounded number of switch intervals.
TEST(gil, a_spinning_holder_hands_over_within_bounded_intervals) {
    constexpr auto interval = 1ms;
    constexpr int bound = 500;  // intervals; generous, as the machine running the tests may be loaded
    gil g(interval);
    std::atomic<bool> holding{false};
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> laps{0};  // advances only while the spinner holds the lock
    std::jthread spinner([&] {
        gil::thread_state state(g);
        holding = true;
        while (!stop.load()) {
            parbench::detail::eval_breaker();
            ++laps;
        }
    });
    ASSERT_TRUE(wait_for(holding));
    for (int round = 0; round < 5; ++round) {
        const auto t0 = clock_type::now();
        g.take();
        const auto waited = clock_type::now() - t0;
        const std::uint64_t seen = laps.load();
        g.drop();
        EXPECT_LT(waited, bound * interval) << "round " << round;
        // Let the spinner hold it again, so that every round starts against a spinning holder.
        const auto deadline = clock_type::now() + 30s;
        while (laps.load() == seen && clock_type::now() < deadline) std::this_thread::yield();
    }
    stop = true;
    spinner.join();
    const auto c = g.counters();
    EXPECT_GE(c.drop_requests, 5u);  // the spinner never let go on its own
    EXPECT_GE(c.switches, 10u);      // spinner -> main -> spinner, five times
}

// Forced switching: a holder that drops on request cannot take the lock back before the waiter has had it.
TEST(gil, a_forced_dropper_waits_until_the_waiter_has_taken_the_lock) {
    gil g(200us);
    std::atomic<bool> holding{false};
    std::atomic<bool> stop{false};
    std::atomic<unsigned> waiter_takes{0};
    std::atomic<unsigned> forced{0};
    std::atomic<unsigned> violations{0};
    std::jthread spinner([&] {
        gil::thread_state state(g);
        holding = true;
        while (!stop.load()) {
            // Only a take() clears a request, and none can complete while this thread holds the lock, so a
            // request seen here is handled by the eval_breaker() call that follows.
            if (!g.drop_requested()) continue;
            const unsigned before = waiter_takes.load();
            parbench::detail::eval_breaker();
            ++forced;
            if (waiter_takes.load() == before) ++violations;
        }
    });
    ASSERT_TRUE(wait_for(holding));
    for (int i = 0; i < 20; ++i) {
        g.take();
        ++waiter_takes;
        g.drop();
    }
    stop = true;
    spinner.join();
    EXPECT_GE(forced.load(), 1u);
    EXPECT_EQ(violations.load(), 0u);
}

// A blocking call releases the lock (time.sleep, I/O): another thread gets it while the holder is blocked.
TEST(gil, a_blocking_scope_releases_the_lock) {
    gil g(100ms);  // long: a hand-over here can only come from the release, not from a drop request
    std::atomic<bool> blocked{false};
    std::atomic<bool> other_ran{false};
    bool released = false;
    std::jthread holder([&] {
        gil::thread_state state(g);
        parbench::blocking_scope blocking;
        blocked = true;
        released = wait_for(other_ran);
    });
    ASSERT_TRUE(wait_for(blocked));
    g.take();
    g.drop();
    other_ran = true;  // after the drop: the holder, leaving its blocking scope, finds the lock free
    holder.join();
    EXPECT_TRUE(released);
    EXPECT_EQ(g.counters().drop_requests, 0u);
}

// The coarse locked counter holds its mutex across eval breakers: a second worker that finds it taken must wait
// with the interpreter lock released, or the two would deadlock.
TEST(gil_threads, a_contended_kernel_lock_does_not_deadlock) {
    parbench::strategies::gil_threads s(4, 100us);
    EXPECT_EQ(s.run(parbench::kernels::locked_counter_coarse{}, 1 << 20), 1u << 20);
    EXPECT_EQ(s.run(parbench::kernels::locked_counter_fine{}, 1 << 16), 1u << 16);
}

TEST(gil_threads, totals_at_every_switch_interval) {
    for (const auto interval : {1us, 100us, 5000us, 20000us}) {
        parbench::strategies::gil_threads s(2, interval);
        EXPECT_EQ(s.switch_interval(), interval);
        EXPECT_EQ(s.run(parbench::kernels::count{}, 1 << 22), 1u << 22);
        EXPECT_EQ(s.run(parbench::kernels::sum_range{}, 1 << 20), parbench::kernels::sum_range{}.expected(1 << 20));
        EXPECT_EQ(s.run(parbench::kernels::sleep_tasks{50us}, 20), 210u);
        EXPECT_GE(s.gil_stats().switches, 2u);  // both workers held the lock at some point
    }
}

// The point of the lock: kernel work (the slices between eval breakers) never overlaps, whatever the workers.
struct exclusive_probe {
    using result = std::uint64_t;
    static constexpr std::string_view name = "exclusive_probe";
    std::atomic<int>* inside;
    std::atomic<int>* overlaps;

    result run(parbench::chunk c) const {
        result done = 0;
        parbench::in_slices(c, [&](parbench::chunk s) {
            if (inside->fetch_add(1) != 0) ++*overlaps;
            for (std::uint64_t i = s.begin; i < s.end; ++i) parbench::keep(++done);
            inside->fetch_sub(1);
        });
        return done;
    }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};

TEST(gil_threads, one_worker_runs_kernel_work_at_a_time) {
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    for (const unsigned w : {2u, 4u, 16u}) {
        parbench::strategies::gil_threads s(w, 50us);
        EXPECT_EQ(s.run(exclusive_probe{&inside, &overlaps}, 1 << 22), 1u << 22);
        EXPECT_GE(s.gil_stats().switches, w);  // every worker had its turn
    }
    EXPECT_EQ(overlaps.load(), 0);
}

TEST(gil_threads, default_switch_interval_is_cpythons) {
    EXPECT_EQ(parbench::strategies::gil_threads(2).switch_interval(), 5ms);
}

}  // namespace
