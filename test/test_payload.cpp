// Data the caller holds (payload.hpp): the output each strategy brings back is the transform of the input, element
// by element; a worker process that dies while its data travels is a worker_error that names it and says how far
// the transfer got; 1,000 runs, failing ones among them, leave no child, descriptor or mapping behind.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "leaks.hpp"
#include "parbench/detail/forkserver_client.hpp"
#include "parbench/detail/payload_io.hpp"
#include "strategies.hpp"

namespace {

namespace ps = parbench::strategies;
namespace k = parbench::kernels;
using parbench::chunk;

const pid_t test_process = ::getpid();

// payload, but the worker process whose chunk holds element `bad` dies of SIGKILL as it reaches it (the caller's
// own process never dies: process_pool's share runs there).
struct dying_payload : k::payload {
    std::uint64_t bad = 0;
    pid_t caller = test_process;  // travels with the kernel: a started worker has its own test_process

    result run(chunk c, std::span<const double> src, std::span<double> dst) const {
        if (c.begin <= bad && bad < c.end && ::getpid() != caller) ::raise(SIGKILL);
        return payload::run(c, src, dst);
    }
    result run(chunk c) const {
        if (c.begin <= bad && bad < c.end && ::getpid() != caller) ::raise(SIGKILL);
        return payload::run(c);
    }
};
static_assert(parbench::payload_kernel<dying_payload>);

// The children of this process, running or zombie, but the fork server of a live processes.forkserver object.
std::vector<pid_t> children() {
    std::vector<pid_t> out;
    const pid_t server = parbench::detail::forkserver_client::running_pid();
    for (const pid_t c : parbench::test::children_of(::getpid()))
        if (c != server) out.push_back(c);
    return out;
}

template <class S>
class payload_strategies : public ::testing::Test {};
TYPED_TEST_SUITE(payload_strategies, parbench::test::all_strategies, parbench::test::strategy_name);

// Every element of the caller's output is the transform of its input, in its place.
TYPED_TEST(payload_strategies, every_output_element_comes_back_in_its_place) {
    TypeParam strategy(3);
    for (const std::uint64_t n : {std::uint64_t{5}, std::uint64_t{100'003}}) {
        const auto data = k::payload{.units = 3}.bind(n);
        ASSERT_EQ(strategy.run(data.kernel(), n), data.kernel().expected(n));
        const auto out = data.kernel().output();
        for (std::uint64_t i = 0; i < n; ++i)
            ASSERT_EQ(out[i], static_cast<double>(k::payload::transform(k::payload::value_at(i), 3, 0))) << i;
        EXPECT_TRUE(data.kernel().output_in_place(n));
    }
}

// output_in_place, bench_parallel's check after the timed runs, tells a right output from one not yet written,
// one with an element changed and one with two elements swapped.
TEST(payload_output, in_place_only_when_every_element_is) {
    const std::uint64_t n = 10'000;
    const auto data = k::payload{.units = 3}.bind(n);
    const auto& kernel = data.kernel();
    EXPECT_FALSE(kernel.output_in_place(n));  // all zeros
    ps::threads strategy(2);
    ASSERT_EQ(strategy.run(kernel, n), kernel.expected(n));
    ASSERT_TRUE(kernel.output_in_place(n));
    const auto out = kernel.output();
    const double kept = out[4321];
    out[4321] = kept + 1;
    EXPECT_FALSE(kernel.output_in_place(n));
    out[4321] = kept;
    ASSERT_NE(out[10], out[11]);
    std::swap(out[10], out[11]);
    EXPECT_FALSE(kernel.output_in_place(n));
    std::swap(out[10], out[11]);
    EXPECT_TRUE(kernel.output_in_place(n));
    EXPECT_FALSE(kernel.output_in_place(n + 1));  // more elements than the caller holds
}

TYPED_TEST(payload_strategies, a_payload_shorter_than_n_is_refused_or_a_worker_error) {
    TypeParam strategy(2);
    const auto data = k::payload{}.bind(10);
    try {
        (void)strategy.run(data.kernel(), 11);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("payload"), std::string::npos) << e.what();
    } catch (const parbench::worker_error& e) {  // in-process strategies: the kernel's own check
        EXPECT_NE(std::string(e.what()).find("past the 10 elements"), std::string::npos) << e.what();
    }
}

template <class S>
class payload_processes : public ::testing::Test {};
using process_strategies =
    ::testing::Types<ps::processes_pipe, ps::processes_cow, ps::processes_shm, ps::processes_spawn,
                     ps::processes_forkserver, ps::process_pool, ps::process_pool_executor, ps::process_pool_spawn,
                     ps::process_pool_executor_forkserver>;
TYPED_TEST_SUITE(payload_processes, process_strategies, parbench::test::strategy_name);

// The strategies that stream a chunk's data through pipes in blocks: a worker that dies in a later block dies with
// part of its output sent.
template <class S>
constexpr bool streams = std::is_same_v<S, ps::processes_pipe> || std::is_same_v<S, ps::processes_cow> ||
                         std::is_same_v<S, ps::processes_spawn> || std::is_same_v<S, ps::processes_forkserver>;

constexpr std::uint64_t block = parbench::detail::payload_block<double>;

// 4 workers, 3 blocks each: worker 2 dies in its second block.
template <class S>
void die_in_worker_2(S& strategy) {
    const std::uint64_t n = 4 * 3 * block;
    auto data = k::payload{.units = 2}.bind(n);
    dying_payload dying;
    static_cast<k::payload&>(dying) = data.kernel();
    dying.bad = 2 * 3 * block + block + 5;
    try {
        (void)strategy.run(dying, n);
        FAIL() << "no worker_error";
    } catch (const parbench::worker_error& e) {
        EXPECT_EQ(e.worker(), 2u) << e.what();
        EXPECT_EQ(e.cause(), parbench::failure::signal) << e.what();
        EXPECT_EQ(e.detail(), SIGKILL) << e.what();
        if constexpr (streams<S>) {
            const std::string what = e.what();
            EXPECT_NE(what.find("mid-transfer"), std::string::npos) << what;
            // One block of output had come back.
            EXPECT_NE(what.find(std::to_string(block * sizeof(double)) + " of " +
                                std::to_string(3 * block * sizeof(double)) + " output bytes"),
                      std::string::npos)
                << what;
        }
    }
}

TYPED_TEST(payload_processes, a_worker_that_dies_mid_transfer_is_a_worker_error_naming_it) {
    TypeParam strategy(4);
    die_in_worker_2(strategy);
    if constexpr (std::is_base_of_v<parbench::per_run_processes, TypeParam>) {
        EXPECT_TRUE(children().empty()) << "a worker was left behind";
    }
    // The strategy keeps serving.
    const auto data = k::payload{.units = 2}.bind(50'000);
    EXPECT_EQ(strategy.run(data.kernel(), 50'000), data.kernel().expected(50'000));
}

// The caller's minor page faults during one run.
template <class S>
long caller_faults_in_a_run(const S& strategy, const k::payload& kernel, std::uint64_t n) {
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    EXPECT_EQ(strategy.run(kernel, n), kernel.expected(n));
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    return after.ru_minflt - before.ru_minflt;
}

// The strategies that fork the caller do not share its output with their workers: the caller writes the output
// its workers send without copying each page on write first (one minor fault per page if the workers shared it).
TEST(payload_fork, the_caller_writes_its_output_without_a_fault_per_page) {
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer writes its shadow of every byte the caller writes, and the workers inherit it";
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    GTEST_SKIP() << "ThreadSanitizer writes its shadow of every byte the caller writes, and the workers inherit it";
#endif
#endif
    const std::uint64_t n = std::uint64_t{1} << 21;  // 16 MiB out: 4,096 pages
    const long pages = static_cast<long>(n * sizeof(double) / static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));
    const auto data = k::payload{.units = 1}.bind(n);
    const ps::processes_pipe pipe(2);
    const ps::processes_cow cow(2);
    (void)caller_faults_in_a_run(pipe, data.kernel(), n);  // the output's pages are the caller's own from here
    EXPECT_LT(caller_faults_in_a_run(pipe, data.kernel(), n), pages / 8);
    EXPECT_LT(caller_faults_in_a_run(cow, data.kernel(), n), pages / 8);
    EXPECT_TRUE(children().empty());
}

TYPED_TEST(payload_processes, a_thousand_runs_leak_no_child_descriptor_or_mapping) {
    const auto small = k::payload{.units = 2}.bind(3000);
    const auto runs = [&](TypeParam& strategy, int count) {
        for (int i = 0; i < count; ++i) {
            if (i % 100 == 99) {
                dying_payload dying;
                static_cast<k::payload&>(dying) = small.kernel();
                dying.bad = 2999;
                EXPECT_THROW((void)strategy.run(dying, 3000), parbench::worker_error);
            } else {
                ASSERT_EQ(strategy.run(small.kernel(), 3000), small.kernel().expected(3000));
            }
        }
    };
    parbench::test::expect_runs_leak_nothing<TypeParam>(runs);
}

}  // namespace
