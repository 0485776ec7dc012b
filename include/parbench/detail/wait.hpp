#pragma once
// Waiting for a 32-bit word to change, written once for the thread pool, the process pool and the benchmarks:
// spin while the party that will change it runs on another CPU, then park on the word's futex. A waker changes
// the word first and then calls wake_waiters, which makes the system call only when a waiter has parked.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>

#include "futex.hpp"
#include "spin.hpp"

namespace parbench::detail {

// How a wait on a word behaves; every field has a default, so a call names only what it needs, e.g.
//   wait_while(word, old, {.scope = futex_scope::process, .spin = 50us, .other_cpu = &their_cpu})
struct wait_options {
    futex_scope scope = futex_scope::shared;  // as the waker's wake_waiters must say too
    // Counts the waiters parked on the word, so that wake_waiters skips the system call when there are none.
    // Null: none is kept, and the waker must wake unconditionally.
    std::atomic<std::uint32_t>* sleepers = nullptr;
    std::chrono::nanoseconds spin{0};                  // spin at most this long before parking (spin_until)
    const std::atomic<int>* other_cpu = nullptr;       // where the waker was last seen: stop spinning if it is here
    std::chrono::nanoseconds timeout = futex_forever;  // give up after this long in all (futex_forever: never)
};

// Spins while `word` equals `old`, for at most `budget` (spin_until: it also gives up when the party that will
// change word was last seen on this CPU); returns the word's last value (old if the budget ran out).
inline std::uint32_t spin_while(const std::atomic<std::uint32_t>& word, std::uint32_t old,
                                std::chrono::nanoseconds budget, const std::atomic<int>* other_cpu = nullptr) noexcept {
    std::uint32_t v = old;
    (void)spin_until([&] { return (v = word.load(std::memory_order_acquire)) != old; }, budget, other_cpu);
    return v;
}

// Waits while `word` equals `old`: spins as `o` says, then parks on the futex until the word changes or the
// timeout passes. Returns the word's new value, or old when the timeout passed first.
inline std::uint32_t wait_while(std::atomic<std::uint32_t>& word, std::uint32_t old,
                                const wait_options& o = {}) noexcept {
    using clock = std::chrono::steady_clock;
    if (const std::uint32_t v = spin_while(word, old, o.spin, o.other_cpu); v != old) return v;
    const bool forever = o.timeout.count() < 0;
    const auto until = forever ? clock::time_point::max() : clock::now() + o.timeout;
    for (;;) {
        // seq_cst pairs with the waker's store-then-load of sleepers: one of the two sees the other.
        if (o.sleepers != nullptr) o.sleepers->fetch_add(1, std::memory_order_seq_cst);
        if (word.load(std::memory_order_seq_cst) == old)
            futex_wait(word, old, forever ? futex_forever : std::max(until - clock::now(), clock::duration{}), o.scope);
        if (o.sleepers != nullptr) o.sleepers->fetch_sub(1, std::memory_order_relaxed);
        const std::uint32_t now = word.load(std::memory_order_acquire);
        if (now != old || (!forever && clock::now() >= until)) return now;
    }
}

// The waker's half of wait_while: call after changing word (with a seq_cst store or read-modify-write). Wakes up
// to n waiters, and with `sleepers` (the counter the waiters pass in wait_options) only when one has parked.
inline void wake_waiters(std::atomic<std::uint32_t>& word, const std::atomic<std::uint32_t>* sleepers = nullptr,
                         futex_scope scope = futex_scope::shared, int n = INT_MAX) noexcept {
    if (sleepers == nullptr || sleepers->load(std::memory_order_seq_cst) != 0) futex_wake(word, n, scope);
}

}  // namespace parbench::detail
