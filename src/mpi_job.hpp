#pragma once
// bench_parallel under mpirun (docs/mpi.md): rank 0 runs the program, the other ranks serve the mpi strategy and
// the overhead/mpi family. Without MPI in the build this is a stand-in that always runs the program.

#if defined(PARBENCH_HAS_MPI)
#include "parbench/mpi_session.hpp"

namespace parbench::bench {
using mpi_job = parbench::mpi_session;
}  // namespace parbench::bench
#else
namespace parbench::bench {
struct mpi_job {
    mpi_job(int&, char**&) {}
    [[nodiscard]] bool is_root() const noexcept { return true; }
    [[nodiscard]] int serve() noexcept { return 0; }
    void set_run_deadline(double, bool = false) noexcept {}
    int finish(int status) noexcept { return status; }
};
}  // namespace parbench::bench
#endif
