#pragma once
// What the machine was doing when a benchmark ran: a fixed probe timed on every CPU this process may use, the
// other processes ready to run and the time the hypervisor stole. Every matrix benchmark records one sample before
// its timed loop and one after it (counters at_s, probe_ns, probe_best_ns, probe_bound_ns, others_running,
// steal_pct); the report reads them as how much of the run was disturbed, and when, and the estimator as the state
// of the CPUs a repetition ran on (tools/parbench/estimate.py).
//
// A one-worker repetition of the matrix runs on one CPU (scoped_pin), chosen from the sample before it: in turn the
// slowest and the fastest, so that a one-worker benchmark has repetitions on a slowed CPU, to meet the runs that a
// slowed CPU holds back, and on a fast one.
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

// Moves the calling thread onto `cpu` alone (probe_cpus, scoped_pin); false where the kernel refused.
inline bool run_on_cpu(std::size_t cpu) noexcept {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one) == 0;
}

struct machine_sample {
    double at_seconds = 0;     // since the first sample of this process
    double probe_ns = 0;       // the probe on the slowest CPU
    double probe_best_ns = 0;  // the probe on the fastest CPU
    int slowest_cpu = -1;      // where probe_ns and probe_best_ns were read (-1: not known)
    int fastest_cpu = -1;
    int pinned_cpu = -1;        // the CPU a pinned repetition runs on (pinned_to), else -1
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

    // This sample as seen by a repetition that runs on `cpu` alone (slowest_cpu or fastest_cpu): both probes are
    // that CPU's.
    [[nodiscard]] machine_sample pinned_to(int cpu) const noexcept {
        machine_sample m = *this;
        m.probe_ns = m.probe_best_ns = cpu == slowest_cpu ? probe_ns : probe_best_ns;
        m.slowest_cpu = m.fastest_cpu = m.pinned_cpu = cpu;
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
            if (!CPU_ISSET(cpu, &own) || !run_on_cpu(cpu)) continue;
            const double ns = probe();
            if (probed == 0 || ns > m.probe_ns) {
                m.probe_ns = ns;
                m.slowest_cpu = static_cast<int>(cpu);
            }
            if (probed == 0 || ns < m.probe_best_ns) {
                m.probe_best_ns = ns;
                m.fastest_cpu = static_cast<int>(cpu);
            }
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

// Runs the calling thread on one CPU while it lives, then gives it back its own set of CPUs. Threads and processes
// it starts meanwhile inherit the one CPU. pinned() is false where the affinity could not be read or set (the
// thread then runs where it was allowed to).
class scoped_pin {
public:
    explicit scoped_pin(int cpu) noexcept {
        CPU_ZERO(&own_);
        if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof own_, &own_) != 0) return;
        pinned_ = run_on_cpu(static_cast<std::size_t>(cpu));
    }
    scoped_pin(const scoped_pin&) = delete;
    scoped_pin& operator=(const scoped_pin&) = delete;
    ~scoped_pin() {
        if (pinned_) sched_setaffinity(0, sizeof own_, &own_);
    }
    [[nodiscard]] bool pinned() const noexcept { return pinned_; }

private:
    cpu_set_t own_{};
    bool pinned_ = false;
};

}  // namespace parbench::bench
