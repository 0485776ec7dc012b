#include "harness.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace parbench::bench {

std::vector<unsigned> worker_sweep(profile p, unsigned hw) {
    std::vector<unsigned> w;
    if (p == profile::quick) {
        w = {1, 2, hw, 2 * hw};
    } else {
        for (unsigned x = 1; x <= 2 * hw; x *= 2) w.push_back(x);
        w.push_back(hw);
    }
    std::sort(w.begin(), w.end());
    w.erase(std::unique(w.begin(), w.end()), w.end());
    return w;
}

const std::vector<unsigned>& workers_in_force() {
    static const std::vector<unsigned> w = current_options().workers
                                               ? *current_options().workers
                                               : worker_sweep(current_options().run_profile, hardware_threads());
    return w;
}

const std::vector<unsigned>& workers_up_to_cpus() {
    static const std::vector<unsigned> w = [] {
        if (current_options().workers) return *current_options().workers;
        std::vector<unsigned> out;
        for (const unsigned x : workers_in_force())
            if (x <= hardware_threads()) out.push_back(x);
        return out;
    }();
    return w;
}

bool in_sweep(bool starts_processes_per_run, unsigned workers, std::size_t i, std::size_t count) {
    const auto& o = current_options();
    if (o.workers || o.run_profile != profile::default_) return true;
    const bool ends = i == 0 || i + 1 == count;
    if ((workers == 1 || workers > hardware_threads()) && !ends) return false;
    if (starts_processes_per_run && i != 0 && i + 2 < count) return false;
    return true;
}

namespace detail {

void note_unavailable(std::string_view strategy, unsigned workers, const std::string& why) {
    static std::mutex m;
    static std::set<std::string, std::less<>> said;
    std::lock_guard lock(m);
    if (!said.emplace(strategy).second) return;
    const std::string which =
        workers <= 1 ? "not registered" : "workers:" + std::to_string(workers) + " and above not registered";
    std::fprintf(stderr, "bench_parallel: %.*s: %s: %s\n", static_cast<int>(strategy.size()), strategy.data(),
                 which.c_str(), why.c_str());
}

}  // namespace detail

}  // namespace parbench::bench
