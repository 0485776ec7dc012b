// The pool is reused: 10,000 runs must not leak threads, descriptors or memory (ASan's leak check covers the
// heap in the sanitizer presets), and a run from inside a worker is refused instead of deadlocking.

#include <gtest/gtest.h>

#include <dirent.h>

#include <cstdint>
#include <stdexcept>

#include "parbench/parbench.hpp"

namespace {

std::size_t entries(const char* dir) {
    std::size_t n = 0;
    if (DIR* d = opendir(dir)) {
        while (readdir(d) != nullptr) ++n;
        closedir(d);
    }
    return n;
}

TEST(thread_pool, reused_across_10000_runs_without_leaks) {
    parbench::strategies::thread_pool pool(4);
    (void)pool.run(parbench::kernels::count{}, 10);
    const std::size_t threads = entries("/proc/self/task");
    const std::size_t fds = entries("/proc/self/fd");
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(pool.run(parbench::kernels::count{}, 1000), 1000u) << "run " << i;
    EXPECT_EQ(entries("/proc/self/task"), threads);
    EXPECT_EQ(entries("/proc/self/fd"), fds);
}

TEST(thread_pool, pools_come_and_go_without_leaking_threads) {
    // One pool first: runtimes such as TSan start a helper thread of their own at the first thread creation.
    { parbench::strategies::thread_pool warm(1); }
    const std::size_t threads = entries("/proc/self/task");
    for (int i = 0; i < 200; ++i) {
        parbench::strategies::thread_pool pool(3);
        ASSERT_EQ(pool.run(parbench::kernels::sum_range{}, 100), 4950u);
    }
    EXPECT_EQ(entries("/proc/self/task"), threads);
}

struct reenter {
    using result = std::uint64_t;
    static constexpr std::string_view name = "reenter";
    parbench::strategies::thread_pool* pool;
    result run(parbench::chunk c) const { return pool->run(parbench::kernels::count{}, c.size()); }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};

TEST(thread_pool, a_run_from_its_own_worker_is_an_error_not_a_deadlock) {
    parbench::strategies::thread_pool pool(2);
    try {
        (void)pool.run(reenter{&pool}, 10);
        FAIL() << "no exception";
    } catch (const parbench::worker_error& e) {
        EXPECT_NE(std::string(e.what()).find("from its own worker"), std::string::npos) << e.what();
    }
}

}  // namespace
