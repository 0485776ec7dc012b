// overhead/ping_pong/<mechanism>[/pinned]: one round trip between two threads (condvar, futex, spin) or two
// processes (pipe, futex_shm, spin_shm): the price of a wake-up and a context switch, the cost the seeds invoke
// without measuring. overhead/ipc/<channel>/bytes:B/{one_way,round_trip}: moving B bytes to a forked peer through
// pipe, socketpair, posix_mq and shm_ring. Each reports ns_per_op; ipc also bytes_per_second.
// docs/overhead_ipc.md explains the protocols and how a VM or a 2-core box distorts the figures.

#include <benchmark/benchmark.h>

#include <csignal>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"
#include "overhead_ipc.hpp"

namespace parbench::bench {
namespace {

using ipc::peer;
using ipc::peer_kind;
using ipc::side;

void set_ns_per_op(benchmark::State& state, ipc::clock::duration elapsed) {
    if (state.iterations() == 0) return;
    state.counters["ns_per_op"] = std::chrono::duration<double, std::nano>(elapsed).count() /
                                  static_cast<double>(state.iterations());
}

template <class M>
void ping_pong(benchmark::State& state, peer_kind kind, bool pinned) {
    try {
        std::optional<ipc::pin_scope> pin;
        if (pinned) {
            pin.emplace();  // before the peer starts, so the peer inherits the one CPU
            if (!pin->ok()) return detail::fail(state, "could not pin to one CPU");
            state.SetLabel("cpu " + std::to_string(pin->cpu()));
        }
        M m;
        peer p(kind, m, [&m] { return m.serve(); });
        const auto t0 = ipc::clock::now();
        for (auto _ : state) {
            if (!m.ping()) {
                m.stop();
                return detail::fail(state, "ping_pong: no answer: " + p.why_failed());
            }
        }
        const auto elapsed = ipc::clock::now() - t0;
        m.stop();
        if (const auto err = p.finish()) return detail::fail(state, "ping_pong: " + *err);
        set_ns_per_op(state, elapsed);
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
    }
}

template <class C>
void transfer(benchmark::State& state, std::size_t size, bool round_trip) {
    try {
        C ch;
        peer p(peer_kind::process, ch, [&ch, size, round_trip] { return ipc::serve_messages(ch, size, round_trip); });
        std::string out(size, 'x');
        std::string in(size, '\0');
        std::uint64_t seq = 0;
        const auto t0 = ipc::clock::now();
        for (auto _ : state) {
            ipc::stamp(out.data(), size, seq);
            if (!ch.send(side::caller, out.data(), size) || (round_trip && !ch.recv(side::caller, in.data(), size)))
                return detail::fail(state, std::string(C::name) + ": transfer failed: " + p.why_failed());
            if (round_trip && !ipc::stamped(in.data(), size, seq))
                return detail::fail(state, std::string(C::name) + ": the echo came back corrupt");
            ++seq;
        }
        // One-way: up to one buffer of messages may still be in flight here; the peer's count below waits for them
        // untimed, which is at most one buffer in many iterations.
        const auto elapsed = ipc::clock::now() - t0;
        const auto good = ipc::stop_messages(ch, size);
        if (!good) return detail::fail(state, std::string(C::name) + ": no final count: " + p.why_failed());
        if (*good != seq)
            return detail::fail(state, std::string(C::name) + ": peer received " + std::to_string(*good) + " of " +
                                           std::to_string(seq) + " messages intact");
        if (const auto err = p.finish()) return detail::fail(state, std::string(C::name) + ": " + *err);
        set_ns_per_op(state, elapsed);
        state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size) * (round_trip ? 2 : 1));
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
    }
}

template <class M>
void add_ping_pong(const char* mechanism, peer_kind kind, bool pinning) {
    for (const bool pinned : {false, true}) {
        if (pinned && !pinning) continue;
        const std::string name = std::string("overhead/ping_pong/") + mechanism + (pinned ? "/pinned" : "");
        register_benchmark(name, [kind, pinned](benchmark::State& s) {
            ping_pong<M>(s, kind, pinned);
        })->UseRealTime();
    }
}

template <class C>
void add_channel(const std::vector<std::size_t>& sizes) {
    for (const std::size_t b : sizes) {
        for (const bool round_trip : {false, true}) {
            const std::string name = "overhead/ipc/" + std::string(C::name) + "/bytes:" + std::to_string(b) +
                                     (round_trip ? "/round_trip" : "/one_way");
            register_benchmark(name, [b, round_trip](benchmark::State& s) {
                transfer<C>(s, b, round_trip);
            })->UseRealTime();
        }
    }
}

// 8 bytes to 1 MiB.
std::vector<std::size_t> message_sizes(profile p) {
    constexpr std::size_t mib = std::size_t{1} << 20;
    if (p == profile::quick) return {8, 65536, mib};
    const std::size_t step = p == profile::full ? 4 : 8;
    std::vector<std::size_t> s;
    for (std::size_t b = 8; b < mib; b *= step) s.push_back(b);
    s.push_back(mib);
    return s;
}

}  // namespace

PARBENCH_FAMILY(45, overhead_ipc) {
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

    const auto sizes = message_sizes(current_options().sweep);
    add_channel<ipc::pipe_channel>(sizes);
    add_channel<ipc::socketpair_channel>(sizes);
    if (ipc::posix_mq_channel::available()) {
        add_channel<ipc::posix_mq_channel>(sizes);
    } else {
        benchmark::AddCustomContext("parbench_posix_mq", "unavailable: mq_open failed");
    }
    add_channel<ipc::shm_ring_channel>(sizes);
}

}  // namespace parbench::bench
