#pragma once
// What bench_parallel reads off the machine and the process: hardware threads and resource usage.

#include <sched.h>
#include <sys/resource.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

#include "parbench/detail/spin.hpp"

namespace parbench::bench {

// The CPUs this process may run on (its affinity mask), which is what its workers can use.
[[nodiscard]] inline unsigned hardware_threads() noexcept { return parbench::detail::available_cpus(); }

// Context switches of this process and of its reaped children (wait4/waitpid fold a child's usage into
// RUSAGE_CHILDREN), so strategies that fork are counted too; and the largest child's peak RSS so far.
struct usage {
    std::int64_t voluntary = 0;
    std::int64_t involuntary = 0;
    std::int64_t children_peak_rss_kib = 0;
    std::int64_t minor_faults = 0;  // page faults served without I/O: mostly first touches of fresh memory

    [[nodiscard]] static usage now() noexcept {
        rusage self{};
        rusage children{};
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &children);
        return {self.ru_nvcsw + children.ru_nvcsw, self.ru_nivcsw + children.ru_nivcsw, children.ru_maxrss,
                self.ru_minflt + children.ru_minflt};
    }
};

// This process's peak RSS (VmHWM) since the last reset_peak_rss(), in KiB; 0 if /proc cannot be read.
// Resetting (Linux >= 4.0) makes the figure this benchmark's own instead of the whole program's high-water mark.
inline bool reset_peak_rss() noexcept {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    return static_cast<bool>(clear.flush());
}
[[nodiscard]] inline std::int64_t peak_rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmHWM:") {
            std::int64_t kib = 0;
            status >> kib;
            return kib;
        }
        status.ignore(1 << 12, '\n');
    }
    return 0;
}

}  // namespace parbench::bench
