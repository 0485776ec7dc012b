#pragma once
// What the machine was doing when a benchmark ran: a fixed probe timed on every CPU this process may use, the
// other processes ready to run and the time the hypervisor stole. Every matrix benchmark records one sample before
// its timed loop and one after it (counters at_s, probe_ns, probe_best_ns, others_running, steal_pct); the report
// reads them as how much of the run was disturbed, and when, and the estimator as the state of the CPUs a
// repetition ran on (tools/parbench/estimate.py).
//
// The probe is a chain of one-cycle additions: it issues as fast as the core's front end lets it, so its time
// doubles when another virtual machine's thread shares the physical core (the sibling hyperthread), as
// throughput-bound kernels do. A chain of multiplications waits on their latency instead and does not see that
// state (docs/notebook/busy_machine.md, "The slow state is a busy sibling").

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace parbench::bench {

struct machine_sample {
    double at_seconds = 0;      // since the first sample of this process
    double probe_ns = 0;        // the probe on the slowest CPU
    double probe_best_ns = 0;   // the probe on the fastest CPU
    double others_running = 0;  // processes ready to run besides this one (/proc/stat procs_running - 1)
    std::int64_t steal_ticks = 0;
    std::chrono::steady_clock::time_point when{};

    [[nodiscard]] static machine_sample now() noexcept {
        static const auto start = std::chrono::steady_clock::now();
        machine_sample m;
        probe_cpus(m);
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
    // The fastest of three chains of 10,000 dependent additions on the calling CPU: the same work every time (an
    // interrupt lands in one of the three at most).
    [[nodiscard]] static double probe() noexcept {
        double best = 0;
        for (int round = 0; round < 3; ++round) {
            const auto t0 = std::chrono::steady_clock::now();
            std::uint64_t x = 1;
            for (std::uint64_t i = 0; i < 10000; ++i) {
                x += i;
                asm volatile("" : "+r"(x));
            }
            const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
            if (round == 0 || ns < best) best = ns;
        }
        return best;
    }

    // The probe on each CPU the calling thread may run on (at most max_probed of them), moving the thread from one
    // to the next and back to its own set: the slowest and the fastest reading. Where the affinity cannot be read
    // or set, the probe runs once, wherever the thread is.
    static void probe_cpus(machine_sample& m) noexcept {
        static constexpr int max_probed = 64;
        cpu_set_t own;
        CPU_ZERO(&own);
        if (sched_getaffinity(0, sizeof own, &own) != 0) {
            m.probe_ns = m.probe_best_ns = probe();
            return;
        }
        int probed = 0;
        for (std::size_t cpu = 0; cpu < CPU_SETSIZE && probed < max_probed; ++cpu) {
            if (!CPU_ISSET(cpu, &own)) continue;
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            if (sched_setaffinity(0, sizeof one, &one) != 0) continue;
            const double ns = probe();
            m.probe_ns = probed == 0 ? ns : std::max(m.probe_ns, ns);
            m.probe_best_ns = probed == 0 ? ns : std::min(m.probe_best_ns, ns);
            ++probed;
        }
        sched_setaffinity(0, sizeof own, &own);
        if (probed == 0) m.probe_ns = m.probe_best_ns = probe();
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
