// overhead/ping_pong/<mechanism>[/pinned]: one round trip between two threads (condvar, futex, spin) or two
// processes (pipe, futex_shm, spin_shm): the price of a wake-up and a context switch, the cost the seeds invoke
// without measuring. Reports ns_per_op. docs/overhead_ipc.md explains the mechanisms and how a VM or a 2-core
// box distorts the figures.

#include <benchmark/benchmark.h>

#include <chrono>
#include <exception>
#include <optional>
#include <string>

#include "harness.hpp"
#include "peer.hpp"
#include "ping_pong.hpp"

namespace parbench::bench {
namespace {

using ipc::peer_kind;

template <class M>
void ping_pong(benchmark::State& state, peer_kind kind, bool pinned) {
    try {
        std::optional<ipc::pin_scope> pin;
        if (pinned) {
            pin.emplace();  // before the peer starts, so the peer inherits the one CPU
            if (!pin->ok()) return fail(state, "could not pin to one CPU");
            state.SetLabel("cpu " + std::to_string(pin->cpu()));
        }
        M m;
        ipc::peer p(kind, m, [&m] { return m.serve(); });
        const auto t0 = ipc::clock::now();
        for (auto _ : state) {
            if (!m.ping()) {
                m.stop();
                return fail(state, "ping_pong: no answer: " + p.why_failed());
            }
        }
        const auto elapsed = ipc::clock::now() - t0;
        m.stop();
        if (const auto err = p.finish()) return fail(state, "ping_pong: " + *err);
        state.counters["ns_per_op"] = detail::per_iteration(state, elapsed) * 1e9;
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

template <class M>
void add_ping_pong(const char* mechanism, peer_kind kind, bool pinning) {
    for (const bool pinned : {false, true}) {
        if (pinned && !pinning) continue;
        const std::string name = std::string("overhead/ping_pong/") + mechanism + (pinned ? "/pinned" : "");
        register_benchmark(name, [kind, pinned](benchmark::State& s) { ping_pong<M>(s, kind, pinned); })->UseRealTime();
    }
}

}  // namespace

// Order 45: after gil/, before overhead/ipc (46) and the other overhead/ families (50 on).
PARBENCH_FAMILY(45, ping_pong) {
    // A peer that dies mid-write must give EPIPE, an error we report, not a signal that kills bench_parallel.
    ipc::ignore_sigpipe();
    const bool pinning = ipc::pin_scope::allowed();
    benchmark::AddCustomContext("parbench_pinning", pinning ? "yes" : "no (sched_setaffinity refused)");

    add_ping_pong<ipc::condvar_ping_pong>("condvar", peer_kind::thread, pinning);
    add_ping_pong<ipc::futex_ping_pong>("futex", peer_kind::thread, pinning);
    add_ping_pong<ipc::spin_ping_pong>("spin", peer_kind::thread, pinning);
    add_ping_pong<ipc::pipe_ping_pong>("pipe", peer_kind::process, pinning);
    add_ping_pong<ipc::futex_ping_pong>("futex_shm", peer_kind::process, pinning);
    add_ping_pong<ipc::spin_ping_pong>("spin_shm", peer_kind::process, pinning);
}

}  // namespace parbench::bench
