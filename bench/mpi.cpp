// overhead/mpi/...: what MPI itself costs, under mpirun (docs/mpi.md). Each benchmark's label states its method.
//   overhead/mpi/ping_pong/bytes:B     ranks 0 and 1 bounce B bytes (MPI_Send/MPI_Recv); time per round trip
//   overhead/mpi/barrier/workers:W     one MPI_Barrier of ranks 0..W-1
//   overhead/mpi/allreduce/workers:W   one 8-byte MPI_Allreduce (a double, MPI_SUM) of ranks 0..W-1
//   overhead/mpi/dispatch/workers:W    one run of the mpi strategy with W empty tasks: a 64-byte MPI_Bcast of the
//                                      command, an empty chunk per rank, a 16-byte MPI_Reduce of the outcomes;
//                                      the same round trip as overhead/dispatch/<strategy>/workers:W
//   overhead/mpi/window/workers:W      rank 0's two epochs on its own window that a locked counter's run adds
//                                      (zero both counts, read them back), the other W-1 ranks waiting for a
//                                      command as they do between runs; time per pair of epochs
// The first three follow the OSU Micro-Benchmarks: warm-up, then every rank times the same number of operations
// (all of Google Benchmark's iterations in one batch), and the time is the slowest rank's (MPI_MAX), with the
// fastest and the mean beside it. dispatch is timed by rank 0 per run, as the other strategies' dispatch is: a
// run ends only once every rank's result has reached rank 0. Built only with MPI; registered only under mpirun.

#if defined(PARBENCH_HAS_MPI)

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "harness.hpp"
#include "parbench/mpi_session.hpp"
#include "parbench/strategies/mpi.hpp"
#include "spin_tasks.hpp"

namespace parbench::bench {
namespace {

namespace pm = parbench::detail::mpi;

enum class op : std::uint32_t { ping_pong, barrier, allreduce };

// Every rank's time for `ops` operations, reduced at rank 0.
struct rank_times {
    double slowest = 0;
    double fastest = 0;
    double mean = 0;
};

void one_op(op o, const pm::session& s, std::vector<char>& buffer) {
    const int bytes = static_cast<int>(buffer.size());
    switch (o) {
        case op::ping_pong:
            if (s.rank == 0) {
                MPI_Send(buffer.data(), bytes, MPI_CHAR, 1, 1, s.comm);
                MPI_Recv(buffer.data(), bytes, MPI_CHAR, 1, 1, s.comm, MPI_STATUS_IGNORE);
            } else if (s.rank == 1) {
                MPI_Recv(buffer.data(), bytes, MPI_CHAR, 0, 1, s.comm, MPI_STATUS_IGNORE);
                MPI_Send(buffer.data(), bytes, MPI_CHAR, 0, 1, s.comm);
            }
            break;
        case op::barrier: MPI_Barrier(s.comm); break;
        case op::allreduce: {
            double in = 1.0;
            double out = 0.0;
            MPI_Allreduce(&in, &out, 1, MPI_DOUBLE, MPI_SUM, s.comm);
            break;
        }
    }
}

// The job every rank of the session runs: command.n operations of command.payload's op, arg bytes.
void timed_ops(const pm::command& c, const pm::session& s, void* out) {
    op o{};
    std::memcpy(&o, c.payload, sizeof o);
    std::vector<char> buffer(c.arg, 'p');
    // OSU's warm-up: 100 operations, 10 for messages above 8 KiB.
    const std::uint64_t warm_up = c.arg > 8192 ? 10 : 100;
    for (std::uint64_t i = 0; i < warm_up; ++i) one_op(o, s, buffer);
    MPI_Barrier(s.comm);
    const double t0 = MPI_Wtime();
    for (std::uint64_t i = 0; i < c.n; ++i) one_op(o, s, buffer);
    const double mine = MPI_Wtime() - t0;
    rank_times t;
    MPI_Reduce(&mine, &t.slowest, 1, MPI_DOUBLE, MPI_MAX, 0, s.comm);
    MPI_Reduce(&mine, &t.fastest, 1, MPI_DOUBLE, MPI_MIN, 0, s.comm);
    MPI_Reduce(&mine, &t.mean, 1, MPI_DOUBLE, MPI_SUM, 0, s.comm);
    if (s.rank == 0) {
        t.mean /= s.size;
        *static_cast<rank_times*>(out) = t;
    }
}
struct timed_ops_tag {};
const std::uint32_t timed_ops_key = pm::register_job<timed_ops_tag>(&timed_ops);

std::string label(const std::string& method, unsigned workers) {
    return workers > hardware_threads() ? method + ", oversubscribed" : method;
}

void osu_style(benchmark::State& state, const char* method, op o, unsigned workers, std::uint64_t bytes) {
    state.SetLabel(label(method, workers));
    try {
        pm::session_scope scope(workers);
        pm::command c;
        c.n = static_cast<std::uint64_t>(state.max_iterations);
        c.arg = bytes;
        std::memcpy(c.payload, &o, sizeof o);
        rank_times t;
        // One batch of all the iterations: every rank runs exactly as many operations as rank 0 counts.
        while (state.KeepRunningBatch(state.max_iterations)) {
            pm::run_job(c, timed_ops_key, scope.get(), &t);
            state.SetIterationTime(t.slowest);
        }
        const double per = 1e6 / static_cast<double>(state.iterations());
        state.counters["us_per_op"] = t.slowest * per;
        state.counters["fastest_rank_us"] = t.fastest * per;
        state.counters["mean_rank_us"] = t.mean * per;
        if (bytes > 0) state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(2 * bytes));
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

// overhead/dispatch's kernel with empty tasks, through the mpi strategy; timed like overhead/dispatch.
void dispatch(benchmark::State& state, unsigned workers) {
    state.SetLabel(label("rank 0 round trip: 64 B MPI_Bcast, empty chunks, 16 B MPI_Reduce", workers));
    try {
        strategies::mpi strategy(workers);
        const auto seconds = detail::checked_loop(
            state, [&] { return strategy.run(spin_tasks{}, workers); }, std::uint64_t{workers});
        if (!seconds) return;
        state.counters["ns_per_op"] = *seconds * 1e9;
        state.counters["bcast_bytes"] = sizeof(pm::command);
        state.counters["reduce_bytes"] = sizeof(pm::outcome<spin_tasks::result>);
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

// The locked counters' cost at rank 0 beyond dispatch: the strategy's own calls before and after a run
// (detail/mpi_counter.hpp), with nothing run between them, so the count read back must be 0. Timed like dispatch.
void window(benchmark::State& state, unsigned workers) {
    state.SetLabel(label("rank 0: exclusive epoch zeroing its window, shared epoch reading it", workers));
    try {
        pm::session_scope scope(workers);
        const MPI_Win w = scope.get().window;
        const kernels::locked_counter_sharded k;
        const auto seconds = detail::checked_loop(
            state,
            [&] {
                pm::zero_counters(w);
                return pm::finish_counter(k, w, std::uint64_t{0});
            },
            std::uint64_t{0});
        if (!seconds) return;
        state.counters["ns_per_op"] = *seconds * 1e9;
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

std::string transport() {
    const char* btl = std::getenv("OMPI_MCA_btl");
    std::string t =
        btl != nullptr ? std::string("btl ") + btl : "default (Open MPI: self,vader on a host, tcp between hosts)";
    return t + "; " + std::to_string(pm::world().hosts) + (pm::world().hosts == 1 ? " host" : " hosts");
}

}  // namespace

// Order 55: after the other overhead families.
PARBENCH_FAMILY(55, overhead_mpi) {
    const unsigned ranks = strategies::mpi::available_workers();
    if (ranks == 0) return;  // the matrix has said why (mpi: not registered)
    benchmark::AddCustomContext("mpi_library", mpi_session::library_version());
    benchmark::AddCustomContext("mpi_ranks", std::to_string(ranks));
    benchmark::AddCustomContext("mpi_transport", transport());
    if (ranks >= 2) {
        for (const std::uint64_t bytes : {8u, 64u, 512u, 4096u, 32768u, 262144u, 1048576u}) {
            const std::string name = "overhead/mpi/ping_pong/bytes:" + std::to_string(bytes);
            register_benchmark(name, [bytes](benchmark::State& state) {
                osu_style(state, "OSU method: MPI_Send/MPI_Recv round trip, slowest of 2 ranks", op::ping_pong, 2,
                          bytes);
            })->UseManualTime();
        }
    }
    for (const unsigned w : workers_in_force()) {
        if (w > ranks) continue;  // the matrix has said so (mpi: workers above P not registered)
        const std::string ws = "/workers:" + std::to_string(w);
        register_benchmark("overhead/mpi/barrier" + ws, [w](benchmark::State& state) {
            osu_style(state, "OSU method: MPI_Barrier, slowest rank", op::barrier, w, 0);
        })->UseManualTime();
        register_benchmark("overhead/mpi/allreduce" + ws, [w](benchmark::State& state) {
            osu_style(state, "OSU method: 8-byte MPI_Allreduce, slowest rank", op::allreduce, w, 0);
        })->UseManualTime();
        register_benchmark("overhead/mpi/dispatch" + ws, [w](benchmark::State& state) {
            dispatch(state, w);
        })->UseRealTime();
        register_benchmark("overhead/mpi/window" + ws, [w](benchmark::State& state) {
            window(state, w);
        })->UseRealTime();
    }
}

}  // namespace parbench::bench

#endif  // PARBENCH_HAS_MPI
