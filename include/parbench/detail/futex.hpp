#pragma once
// Linux futexes on a 32-bit word. A word that only this process's threads wait on uses futex_scope::process (the
// private futex, which skips the kernel's lookup of the mapping); a word in a MAP_SHARED mapping that other
// processes wait on too must use futex_scope::shared.

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

// Who waits on a futex word: this process's threads only, or processes that share the word's mapping.
enum class futex_scope { process, shared };

[[nodiscard]] constexpr int futex_op(int op, futex_scope scope) noexcept {
    return scope == futex_scope::process ? op | FUTEX_PRIVATE_FLAG : op;
}

// Sleeps while *word == expected, until woken, a signal, or the (relative) timeout. Returns false only when the
// timeout expired; spurious wake-ups return true, so callers re-check their condition in a loop.
inline bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       std::chrono::nanoseconds timeout = futex_forever,
                       futex_scope scope = futex_scope::shared) noexcept {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout.count() >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
        tsp = &ts;
    }
    const long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), futex_op(FUTEX_WAIT, scope), expected,
                            tsp, nullptr, 0);
    return !(rc == -1 && errno == ETIMEDOUT);
}

// Wakes up to n waiters on word; returns how many were woken.
inline int futex_wake(std::atomic<std::uint32_t>& word, int n = INT_MAX,
                      futex_scope scope = futex_scope::shared) noexcept {
    return static_cast<int>(syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), futex_op(FUTEX_WAKE, scope), n,
                                    nullptr, nullptr, 0));
}

}  // namespace parbench::detail
