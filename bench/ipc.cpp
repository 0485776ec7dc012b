// overhead/ipc/<channel>/bytes:B/{one_way,round_trip}: moving B bytes to a forked peer through pipe, socketpair,
// posix_mq and shm_ring, every message checked. Reports ns_per_op and bytes_per_second. docs/overhead_ipc.md
// explains the protocol and how a VM or a 2-core box distorts the figures.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "harness.hpp"
#include "ipc.hpp"
#include "peer.hpp"

namespace parbench::bench {
namespace {

using ipc::side;

template <class C>
void transfer(benchmark::State& state, std::size_t size, bool round_trip) {
    try {
        C ch;
        ipc::peer p(ipc::peer_kind::process, ch,
                    [&ch, size, round_trip] { return ipc::serve_messages(ch, size, round_trip); });
        std::string out(size, 'x');
        std::string in(size, '\0');
        std::uint64_t seq = 0;
        // One message untimed first: the peer allocates and touches its buffer before its first receive, which at
        // tens of MiB would otherwise be the cost of a run's only iteration.
        ipc::stamp(out.data(), size, seq);
        if (!ch.send(side::caller, out.data(), size) || (round_trip && !ch.recv(side::caller, in.data(), size)))
            return fail(state, std::string(C::name) + ": transfer failed: " + p.why_failed());
        ++seq;
        const auto t0 = ipc::clock::now();
        for (auto _ : state) {
            ipc::stamp(out.data(), size, seq);
            if (!ch.send(side::caller, out.data(), size) || (round_trip && !ch.recv(side::caller, in.data(), size)))
                return fail(state, std::string(C::name) + ": transfer failed: " + p.why_failed());
            if (round_trip && !ipc::stamped(in.data(), size, seq))
                return fail(state, std::string(C::name) + ": the echo came back corrupt");
            ++seq;
        }
        // One-way: up to one buffer of messages may still be in flight here; the peer's count below waits for them
        // untimed, which is at most one buffer in many iterations.
        const auto elapsed = ipc::clock::now() - t0;
        const auto good = ipc::stop_messages(ch, size);
        if (!good) return fail(state, std::string(C::name) + ": no final count: " + p.why_failed());
        if (*good != seq)
            return fail(state, std::string(C::name) + ": peer received " + std::to_string(*good) + " of " +
                                   std::to_string(seq) + " messages intact");
        if (const auto err = p.finish()) return fail(state, std::string(C::name) + ": " + *err);
        state.counters["ns_per_op"] = detail::per_iteration(state, elapsed) * 1e9;
        state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size) * (round_trip ? 2 : 1));
    } catch (const std::exception& e) {
        fail(state, e.what());
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

// The pipe alone goes on to the payload kernel's largest sizes (bench/matrix.cpp: B to 64 MiB, 256 MiB in full;
// 1 MiB in quick), so that what processes.pipe pays per byte it moves has a pipe's own cost at the same size beside
// it: messages that stream from and to memory, not the cached ones up to 1 MiB.
std::vector<std::size_t> payload_sizes(profile p) {
    constexpr std::size_t mib = std::size_t{1} << 20;
    if (p == profile::quick) return {};
    const std::size_t largest = p == profile::full ? 256 * mib : 64 * mib;
    std::vector<std::size_t> s;
    for (std::size_t b = 4 * mib; b <= largest; b *= 4) s.push_back(b);
    return s;
}

}  // namespace

// Order 46: right after overhead/ping_pong (45).
PARBENCH_FAMILY(46, ipc) {
    // A peer that dies mid-write must give EPIPE, an error we report, not a signal that kills bench_parallel.
    ipc::ignore_sigpipe();
    const profile p = current_options().run_profile;
    const auto sizes = message_sizes(p);
    auto pipe_sizes = sizes;
    for (const std::size_t b : payload_sizes(p)) pipe_sizes.push_back(b);
    add_channel<ipc::pipe_channel>(pipe_sizes);
    add_channel<ipc::socketpair_channel>(sizes);
    if (ipc::posix_mq_channel::available()) {
        add_channel<ipc::posix_mq_channel>(sizes);
    } else {
        benchmark::AddCustomContext("parbench_posix_mq", "unavailable: mq_open failed");
    }
    add_channel<ipc::shm_ring_channel>(sizes);
}

}  // namespace parbench::bench
