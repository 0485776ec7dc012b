#pragma once
// Spinning politely: the pause instruction for spin loops, and the CPUs this process may run on, which is what a
// spin budget must adapt to (spinning only pays while the thread that will answer is running on another CPU).

#include <sched.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace parbench::detail {

// Tells the core this is a spin-wait loop: saves power and lets a sibling hyper-thread run.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#else
    std::this_thread::yield();
#endif
}

// The CPU this thread is running on (-1 if unknown); cheap (rseq or vDSO). A spinner can tell from it that the
// thread it waits for last ran on its own CPU, and so cannot run until the spinner stops.
[[nodiscard]] inline int current_cpu() noexcept { return sched_getcpu(); }

// CPUs in this process's affinity mask (at least 1): taskset and cgroup cpusets count, unlike hardware_concurrency.
[[nodiscard]] inline unsigned available_cpus() noexcept {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : hw;
}

// A spin budget that never runs out: spin_until spins until pred() holds (or the other party is seen here).
inline constexpr std::chrono::nanoseconds spin_forever = std::chrono::nanoseconds::max();

// Spins until pred() holds, for at most `budget` (spin_forever: no limit); true once it holds, false when the
// budget ran out (then park).
// Gives up early when the thread or process that will make pred() hold was last seen on this CPU (`other_cpu`,
// -1 if unknown): a loaded machine puts a woken task on its waker's CPU, and it cannot run until this one stops.
// (Yielding instead is no help: under EEVDF each sched_yield pushes the yielder's deadline back a whole slice.)
// The clock and the CPU are read every 64 pauses, so the loop itself is a load and a pause.
template <class Pred>
bool spin_until(Pred pred, std::chrono::nanoseconds budget, const std::atomic<int>* other_cpu = nullptr) noexcept {
    if (pred()) return true;
    if (budget.count() <= 0) return false;
    using clock = std::chrono::steady_clock;
    const auto deadline = budget == spin_forever ? clock::time_point::max() : clock::now() + budget;
    for (unsigned i = 1;; ++i) {
        cpu_relax();
        if (pred()) return true;
        if (i % 64 != 0) continue;
        if (clock::now() >= deadline) return false;
        if (other_cpu != nullptr) {
            const int other = other_cpu->load(std::memory_order_relaxed);
            if (other >= 0 && other == current_cpu()) return false;
        }
    }
}

}  // namespace parbench::detail
