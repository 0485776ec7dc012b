// Both pools are reused: 10,000 runs must not leak threads, descriptors or memory (ASan's leak check covers the
// heap in the sanitizer presets); a run from inside a run is refused instead of deadlocking; concurrent callers
// are serialised; oversubscribed pools finish; a pool whose workers have parked still wakes and still joins.
// thread_pool.spin's idle workers never park; thread_pool's do.

#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "leaks.hpp"
#include "parbench/parbench.hpp"

namespace {

namespace k = parbench::kernels;

// Longer than any spin budget, so the workers have parked on their futex or condition variable.
void until_parked() { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

template <class P>
class pool : public ::testing::Test {};
using pools = ::testing::Types<parbench::strategies::thread_pool, parbench::strategies::thread_pool_condvar,
                               parbench::strategies::thread_pool_spin>;
struct pool_name {
    template <class P>
    static std::string GetName(int) {
        std::string n(P::name);
        for (auto& c : n)
            if (c == '.') c = '_';
        return n;
    }
};
TYPED_TEST_SUITE(pool, pools, pool_name);

TYPED_TEST(pool, reused_across_10000_runs_without_leaks) {
    TypeParam p(4);
    (void)p.run(k::count{}, 10);
    const std::size_t threads = parbench::test::threads_now();
    const std::size_t fds = parbench::test::open_fds();
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(p.run(k::count{}, 1000), 1000u) << "run " << i;
    EXPECT_EQ(parbench::test::threads_now(), threads);
    EXPECT_EQ(parbench::test::open_fds(), fds);
}

TYPED_TEST(pool, pools_come_and_go_without_leaking_threads) {
    parbench::test::one_thread_come_and_gone();  // a sanitizer's helper thread, if any, is counted from here
    const std::size_t threads = parbench::test::threads_now();
    for (int i = 0; i < 200; ++i) {
        TypeParam p(3);
        ASSERT_EQ(p.run(k::sum_range{}, 100), 4950u);
    }
    EXPECT_EQ(parbench::test::settled_threads(threads), threads);
}

template <class P>
struct reenter {
    using result = std::uint64_t;
    static constexpr std::string_view name = "reenter";
    P* pool;
    result run(parbench::chunk c) const { return pool->run(k::count{}, c.size()); }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};

TYPED_TEST(pool, a_run_from_its_own_worker_is_an_error_not_a_deadlock) {
    for (const unsigned w : {1u, 2u, 3u}) {
        TypeParam p(w);
        try {
            (void)p.run(reenter<TypeParam>{&p}, 10);
            FAIL() << "no exception with " << w << " workers";
        } catch (const parbench::worker_error& e) {
            EXPECT_NE(std::string(e.what()).find("from its own worker"), std::string::npos) << e.what();
        }
        EXPECT_EQ(p.run(k::count{}, 10), 10u);  // still usable
    }
}

// Throws from the chunk that holds element `bad`.
struct throwing {
    using result = std::uint64_t;
    static constexpr std::string_view name = "throwing";
    std::uint64_t bad = 0;
    result run(parbench::chunk c) const {
        if (c.begin <= bad && bad < c.end) throw std::runtime_error("boom");
        return c.size();
    }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};

TYPED_TEST(pool, an_exception_in_any_chunk_names_its_worker_and_the_pool_goes_on) {
    TypeParam p(4);
    for (int round = 0; round < 3; ++round) {
        for (unsigned w = 0; w < 4; ++w) {  // chunk 0 runs on the caller in thread_pool, the others on workers
            try {
                (void)p.run(throwing{w * 100 + 50}, 400);
                FAIL() << "no exception";
            } catch (const parbench::worker_error& e) {
                EXPECT_EQ(e.worker(), w);
                EXPECT_EQ(e.cause(), parbench::failure::exception);
            }
            EXPECT_EQ(p.run(k::count{}, 400), 400u);
        }
        until_parked();  // and again from parked workers
    }
}

TYPED_TEST(pool, oversubscribed_64_workers_on_this_machine) {
    TypeParam p(64);
    for (int i = 0; i < 200; ++i) ASSERT_EQ(p.run(k::count{}, 100'000), 100'000u) << "run " << i;
    EXPECT_EQ(p.run(k::locked_counter_atomic{}, 6400), 6400u);
    EXPECT_EQ(p.run(k::count{}, 10), 10u);  // most workers get an empty chunk
}

TYPED_TEST(pool, concurrent_callers_are_serialised) {
    TypeParam p(3);
    std::vector<std::thread> callers;
    callers.reserve(4);
    std::vector<int> wrong(4, 0);
    for (int c = 0; c < 4; ++c)
        callers.emplace_back([&p, &wrong, c] {
            for (int i = 0; i < 500; ++i) {
                const std::uint64_t n = 1000u + static_cast<std::uint64_t>(c);
                if (p.run(k::sum_range{}, n) != k::sum_range{}.expected(n)) ++wrong[static_cast<std::size_t>(c)];
            }
        });
    for (auto& t : callers) t.join();
    EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

TYPED_TEST(pool, parked_workers_wake_for_the_next_run) {
    TypeParam p(2);
    for (int i = 0; i < 5; ++i) {
        until_parked();
        ASSERT_EQ(p.run(k::count{}, 1000), 1000u);
    }
}

TYPED_TEST(pool, destructor_joins_idle_spinning_and_never_used_pools) {
    { TypeParam never_used(3); }
    {
        TypeParam spinning(3);  // destroyed right after a run, while its workers may still spin
        EXPECT_EQ(spinning.run(k::count{}, 30), 30u);
    }
    {
        TypeParam idle(3);
        EXPECT_EQ(idle.run(k::count{}, 30), 30u);
        until_parked();
    }
    {
        TypeParam oversubscribed(64);
        EXPECT_EQ(oversubscribed.run(k::count{}, 30), 30u);
    }
}

// The threads of this process, by id.
std::set<pid_t> tasks() {
    std::set<pid_t> out;
    if (DIR* d = opendir("/proc/self/task")) {
        while (const dirent* e = readdir(d))
            if (e->d_name[0] != '.') out.insert(static_cast<pid_t>(std::stol(e->d_name)));
        closedir(d);
    }
    return out;
}

// A thread's scheduler state from /proc: 'R' running or ready to run, 'S' asleep (a parked worker), ...
char state_of(pid_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    std::getline(f, line);
    const auto close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

// The states of a pool's workers (the threads it started), sampled `samples` times 2 ms apart once they have
// been idle longer than any spin budget (and, where `parks`, once each was first found asleep): how many samples
// found each worker asleep.
template <class P>
std::vector<int> asleep_while_idle(int samples, bool parks) {
    parbench::test::one_thread_come_and_gone();  // a sanitizer's helper thread is not one of the pool's
    const std::set<pid_t> before = tasks();
    P p(2);
    std::vector<pid_t> workers;
    for (const pid_t t : tasks())
        if (before.count(t) == 0) workers.push_back(t);
    EXPECT_EQ(p.run(k::count{}, 1000), 1000u);
    until_parked();
    if (parks) {
        // A worker that must park may still be waiting for a CPU to run its way to the futex: give it 5 s.
        (void)parbench::test::wait_until(
            [&] { return std::all_of(workers.begin(), workers.end(), [](pid_t w) { return state_of(w) == 'S'; }); },
            std::chrono::seconds(5));
    }
    std::vector<int> asleep(workers.size(), 0);
    for (int s = 0; s < samples; ++s) {
        for (std::size_t i = 0; i < workers.size(); ++i) asleep[i] += state_of(workers[i]) == 'S' ? 1 : 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return asleep;
}

TEST(thread_pool_spin, idle_workers_never_park) {
    if (parbench::detail::available_cpus() < 2) GTEST_SKIP() << "one CPU: a pool of 2 workers does not spin";
    const std::vector<int> asleep = asleep_while_idle<parbench::strategies::thread_pool_spin>(50, false);
    ASSERT_EQ(asleep.size(), 1u);  // thread_pool.spin(2): one worker, the caller runs chunk 0
    EXPECT_EQ(asleep[0], 0) << "a spinning pool's idle worker was found asleep";
}

TEST(thread_pool_spin, thread_pools_idle_workers_park) {  // the check above can tell the two apart
    const std::vector<int> asleep = asleep_while_idle<parbench::strategies::thread_pool>(50, true);
    ASSERT_EQ(asleep.size(), 1u);
    EXPECT_EQ(asleep[0], 50) << "thread_pool's idle worker was found awake";
}

}  // namespace
