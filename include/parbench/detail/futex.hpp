#pragma once
// Linux futexes on a 32-bit word. The word may live in a MAP_SHARED mapping, so the same calls park and wake
// threads and processes alike (the private flag is not used for that reason).

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

namespace parbench::detail {

static_assert(std::atomic<std::uint32_t>::is_always_lock_free && sizeof(std::atomic<std::uint32_t>) == 4,
              "a futex word must be a plain lock-free 32-bit atomic");

inline constexpr std::chrono::nanoseconds futex_forever{-1};

// Sleeps while *word == expected, until woken, a signal, or the (relative) timeout. Returns false only when the
// timeout expired; spurious wake-ups return true, so callers re-check their condition in a loop.
inline bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       std::chrono::nanoseconds timeout = futex_forever) noexcept {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout.count() >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
        tsp = &ts;
    }
    const long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, tsp, nullptr, 0);
    return !(rc == -1 && errno == ETIMEDOUT);
}

// Wakes up to n waiters on word; returns how many were woken.
inline int futex_wake(std::atomic<std::uint32_t>& word, int n = INT_MAX) noexcept {
    return static_cast<int>(
        syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, n, nullptr, nullptr, 0));
}

}  // namespace parbench::detail
