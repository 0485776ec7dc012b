// detail/wait.hpp, the one spin-then-park wait every pool and benchmark uses: a change of the word wakes a parked
// waiter (threads with the private futex, processes with the shared one), a timeout returns the old value, and a
// waker that keeps a sleeper count wakes the waiters that count says are parked.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "parbench/detail/child.hpp"
#include "parbench/detail/shm.hpp"
#include "parbench/detail/wait.hpp"

namespace {

namespace d = parbench::detail;
using namespace std::chrono_literals;

TEST(wait, timeout_returns_the_old_value_after_the_timeout) {
    std::atomic<std::uint32_t> word{7};
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(d::wait_while(word, 7, {.scope = d::futex_scope::process, .spin = 10us, .timeout = 20ms}), 7u);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
}

TEST(wait, a_changed_word_returns_at_once) {
    std::atomic<std::uint32_t> word{8};
    EXPECT_EQ(d::wait_while(word, 7, {.timeout = 0ms}), 8u);
}

TEST(wait, a_thread_wakes_a_parked_thread_through_the_sleeper_count) {
    std::atomic<std::uint32_t> word{0};
    std::atomic<std::uint32_t> sleepers{0};
    constexpr auto scope = d::futex_scope::process;
    std::thread waker([&] {
        while (sleepers.load() == 0) std::this_thread::yield();  // the waiter has parked (or is about to)
        word.store(1, std::memory_order_seq_cst);
        d::wake_waiters(word, &sleepers, scope);
    });
    EXPECT_EQ(d::wait_while(word, 0, {.scope = scope, .sleepers = &sleepers, .timeout = 60s}), 1u);
    waker.join();
    EXPECT_EQ(sleepers.load(), 0u);
}

TEST(wait, a_process_wakes_a_process_parked_on_a_shared_word) {
    d::shared_object<std::atomic<std::uint32_t>> word(0u);
    d::shared_object<std::atomic<std::uint32_t>> sleepers(0u);
    const pid_t child = d::fork_child([&] {
        // Answers 2 once the parent has parked on 1.
        if (d::wait_while(*word, 0, {.timeout = 60s}) != 1) return 1;
        while (sleepers->load() == 0) std::this_thread::yield();
        word->store(2, std::memory_order_seq_cst);
        d::wake_waiters(*word, &*sleepers);
        return 0;
    });
    word->store(1, std::memory_order_seq_cst);
    d::wake_waiters(*word);
    EXPECT_EQ(d::wait_while(*word, 1, {.sleepers = &*sleepers, .timeout = 60s}), 2u);
    EXPECT_EQ(d::reap(child), 0);
}

}  // namespace
