#pragma once
// The MPI job around a program that uses the mpi strategy (docs/mpi.md). In main:
//
//   parbench::mpi_session mpi(argc, argv);
//   if (!mpi.is_root()) return mpi.serve();  // ranks 1..P-1 run rank 0's commands until it finishes
//   return mpi.finish(run_the_program());    // rank 0: every rank ends with this status
//
// Under a launcher (mpirun of Open MPI, or a PMI/PMIx one) this initialises MPI; otherwise it does nothing,
// is_root() is true and ranks() is 0, so the same program runs without MPI and the mpi strategy is unavailable.
// Only rank 0 reads the command line and decides anything: the other ranks do what it sends them, so every rank
// runs the same work by construction.

#include <mpi.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "detail/mpi_world.hpp"

namespace parbench {

class mpi_session {
public:
    mpi_session(int& argc, char**& argv) {
        if (!launched()) return;
        MPI_Init(&argc, &argv);
        auto& w = detail::mpi::world();
        MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &w.size);
        // One communicator per worker count, ranks 0..W-1: a run with W workers involves those ranks alone.
        w.comms.assign(static_cast<std::size_t>(w.size), MPI_COMM_NULL);
        for (int n = 1; n <= w.size; ++n)
            MPI_Comm_split(MPI_COMM_WORLD, w.rank < n ? 0 : MPI_UNDEFINED, w.rank,
                           &w.comms[static_cast<std::size_t>(n - 1)]);
        MPI_Comm host = MPI_COMM_NULL;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &host);
        int host_rank = 0;
        MPI_Comm_rank(host, &host_rank);
        const int first_on_host = host_rank == 0 ? 1 : 0;
        MPI_Allreduce(&first_on_host, &w.hosts, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Comm_free(&host);
        active_ = true;
    }
    ~mpi_session() {
        if (!active_) return;
        if (is_root() && !finished_) finish(0);
        detail::mpi::watch().stop();
        for (auto& c : detail::mpi::world().comms)
            if (c != MPI_COMM_NULL) MPI_Comm_free(&c);
        detail::mpi::world() = {};
        MPI_Finalize();
    }
    mpi_session(const mpi_session&) = delete;
    mpi_session& operator=(const mpi_session&) = delete;

    [[nodiscard]] bool active() const noexcept { return active_; }
    [[nodiscard]] bool is_root() const noexcept { return !active_ || detail::mpi::world().rank == 0; }
    [[nodiscard]] int rank() const noexcept { return active_ ? detail::mpi::world().rank : 0; }
    [[nodiscard]] int ranks() const noexcept { return active_ ? detail::mpi::world().size : 0; }
    [[nodiscard]] int hosts() const noexcept { return active_ ? detail::mpi::world().hosts : 0; }

    // Ranks other than 0: serves rank 0 until it calls finish(); returns the status it gave.
    [[nodiscard]] int serve() {
        finished_ = true;
        return detail::mpi::serve_until_quit();
    }
    // Rank 0: ends every rank with `status`; returns it. Without MPI, just returns it.
    int finish(int status) {
        if (active_ && is_root() && !finished_) detail::mpi::world_send({detail::mpi::world_op::quit, status});
        finished_ = true;
        return status;
    }

    // Rank 0: ends the job (status 4, one line on stderr naming the ranks waited on) when a run of the mpi
    // strategy, or a session's opening or closing, takes longer than `seconds`, or with `grows`, than
    // max(seconds, 10 x the slowest run so far) (at most a day): a stopped rank, or one whose host is cut off,
    // never answers otherwise. 0 turns the deadline off (the default).
    void set_run_deadline(double seconds, bool grows = false) {
        if (active_ && is_root()) detail::mpi::watch().start(seconds, grows);
    }

    // The MPI library's own version line, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ...".
    [[nodiscard]] static std::string library_version() {
        char text[MPI_MAX_LIBRARY_VERSION_STRING];
        int length = 0;
        MPI_Get_library_version(text, &length);
        std::string v(text, static_cast<std::size_t>(length));
        while (!v.empty() && (v.back() == '\n' || v.back() == ' ' || v.back() == '\0')) v.pop_back();
        return v;
    }

    // True where a launcher started this process as one rank of a job.
    [[nodiscard]] static bool launched() noexcept {
        for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
            if (std::getenv(v) != nullptr) return true;
        return false;
    }

private:
    bool active_ = false;
    bool finished_ = false;
};

}  // namespace parbench
