#pragma once
// What the machine was doing when a benchmark ran: a fixed probe timed on the calling CPU, the other processes
// ready to run and the time the hypervisor stole. Every matrix benchmark records one sample before its timed loop
// (counters at_s, probe_ns, others_running, steal_pct); the report reads them as how much of the run was
// disturbed, and when.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace parbench::bench {

struct machine_sample {
    double at_seconds = 0;      // since the first sample of this process
    double probe_ns = 0;        // one run of the fixed probe loop
    double others_running = 0;  // processes ready to run besides this one (/proc/stat procs_running - 1)
    std::int64_t steal_ticks = 0;
    std::chrono::steady_clock::time_point when{};

    [[nodiscard]] static machine_sample now() noexcept {
        static const auto start = std::chrono::steady_clock::now();
        machine_sample m;
        m.probe_ns = probe();
        read_proc_stat(m);
        m.when = std::chrono::steady_clock::now();
        m.at_seconds = std::chrono::duration<double>(m.when - start).count();
        return m;
    }

    // Percent of the CPUs' time stolen between `earlier` and this sample (0 where the kernel does not count it).
    [[nodiscard]] double steal_percent_since(const machine_sample& earlier) const noexcept {
        const double wall = std::chrono::duration<double>(when - earlier.when).count();
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        const long hz = sysconf(_SC_CLK_TCK);
        if (wall <= 0 || cpus <= 0 || hz <= 0) return 0;
        return 100.0 * static_cast<double>(steal_ticks - earlier.steal_ticks) /
               (wall * static_cast<double>(hz) * static_cast<double>(cpus));
    }

private:
    // A dependent chain of 20,000 multiply-adds: the same work every time, so its time follows the speed of the
    // CPU it runs on and the other work sharing that CPU.
    [[nodiscard]] static double probe() noexcept {
        const auto t0 = std::chrono::steady_clock::now();
        std::uint64_t x = 1;
        for (int i = 0; i < 20000; ++i) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            asm volatile("" : "+r"(x));
        }
        return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    }

    static void read_proc_stat(machine_sample& m) noexcept {
        std::FILE* f = std::fopen("/proc/stat", "re");
        if (f == nullptr) return;
        char line[512];
        while (std::fgets(line, sizeof line, f) != nullptr) {
            unsigned long long v[8] = {};
            if (std::strncmp(line, "cpu ", 4) == 0 &&
                std::sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                            &v[5], &v[6], &v[7]) == 8) {
                m.steal_ticks = static_cast<std::int64_t>(v[7]);
            } else if (unsigned long long running = 0;
                       std::sscanf(line, "procs_running %llu", &running) == 1 && running >= 1) {
                m.others_running = static_cast<double>(running - 1);
            }
        }
        std::fclose(f);
    }
};

}  // namespace parbench::bench
