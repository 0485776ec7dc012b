#pragma once
// Spinning politely: the pause instruction for spin loops, and the CPUs this process may run on, which is what a
// spin budget must adapt to (spinning only pays while the thread that will answer is running on another CPU).

#include <sched.h>

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

}  // namespace parbench::detail
