#pragma once
// The MPI machinery under the mpi strategy (docs/mpi.md). Rank 0 drives; every other rank serves:
//   - world level: rank 0 opens a session of W ranks (ranks 0..W-1), or ends the program with a status. Idle
//     ranks wait for this with a non-blocking broadcast they poll, spinning briefly and then sleeping, so that
//     ranks outside the running benchmark leave its CPUs alone.
//   - session level: inside a session, rank 0 broadcasts 64-byte commands on the session's communicator and
//     every rank of it runs the command's job, a function registered by key, until rank 0 closes the session.
// A job (one run of a kernel, one batch of ping-pongs) is a function every rank runs; it is registered in static
// initialisation, so every process of one program has the same jobs under the same keys.

#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "mpi_watch.hpp"

namespace parbench::detail::mpi {

// What rank 0 sends a session's ranks: a job's key, two numbers and up to 40 bytes of the job's own (a kernel).
struct command {
    std::uint32_t key = 0;    // 0 closes the session; otherwise 1 + the job's index
    std::uint32_t check = 0;  // a hash of the job's type name: a mismatch means the ranks run different programs
    std::uint64_t n = 0;
    std::uint64_t arg = 0;
    alignas(8) std::byte payload[40] = {};
};
static_assert(sizeof(command) == 64);

// The ranks of one session and its one-sided window: two 64-bit counters at rank 0 (the locked counter's
// shared state).
struct session {
    MPI_Comm comm = MPI_COMM_NULL;
    int rank = 0;
    int size = 0;
    MPI_Win window = MPI_WIN_NULL;
};

// A job: every rank of the session calls it with the same command. On rank 0 `out` is where its result goes.
using job_fn = void (*)(const command&, const session&, void* out);

struct job_entry {
    std::uint32_t check;
    job_fn run;
};

[[nodiscard]] constexpr std::uint32_t fnv1a(const char* s) noexcept {
    std::uint32_t h = 2166136261u;
    for (; *s != '\0'; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 16777619u;
    return h;
}

[[nodiscard]] inline std::vector<job_entry>& jobs() {
    static std::vector<job_entry> all;
    return all;
}

// A job's key. Keys follow static-initialisation order, which is the same in every process of one program.
template <class Tag>
[[nodiscard]] std::uint32_t register_job(job_fn f) {
    jobs().push_back({fnv1a(typeid(Tag).name()), f});
    return static_cast<std::uint32_t>(jobs().size());
}

// The process's MPI state, set up by parbench::mpi_session; size == 0 where the program runs without MPI.
struct world_state {
    int rank = 0;
    int size = 0;
    int hosts = 0;                // how many shared-memory nodes the ranks are on
    std::vector<MPI_Comm> comms;  // comms[W - 1]: ranks 0..W-1, MPI_COMM_NULL on ranks outside
    bool in_session = false;
};
[[nodiscard]] inline world_state& world() {
    static world_state w;
    return w;
}

// World-level messages, from rank 0 to every rank.
enum class world_op : std::int32_t { open = 1, quit = 2 };
struct world_message {
    world_op op = world_op::quit;
    std::int32_t value = 0;  // open: W; quit: the exit status
};

// Rank 0: one world message.
inline void world_send(world_message m) {
    MPI_Request r = MPI_REQUEST_NULL;
    MPI_Ibcast(&m, sizeof m, MPI_BYTE, 0, MPI_COMM_WORLD, &r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
}

// Other ranks: the next world message. Polls for 200 us, then sleeps between polls, up to 1 ms apart.
[[nodiscard]] inline world_message world_receive() {
    world_message m;
    MPI_Request r = MPI_REQUEST_NULL;
    MPI_Ibcast(&m, sizeof m, MPI_BYTE, 0, MPI_COMM_WORLD, &r);
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    auto nap = std::chrono::microseconds(20);
    for (int done = 0;;) {
        MPI_Test(&r, &done, MPI_STATUS_IGNORE);
        if (done != 0) return m;
        if (std::chrono::steady_clock::now() < spin_until) continue;
        std::this_thread::sleep_for(nap);
        if (nap < std::chrono::milliseconds(1)) nap *= 2;
    }
}

// Every rank of a session: the window, created and freed collectively. Across hosts the MPI library needs a
// one-sided component for the network between them; without one, every rank says so and the job ends.
inline void open_window(session& s) {
    void* base = nullptr;
    const MPI_Aint bytes = s.rank == 0 ? 2 * sizeof(std::uint64_t) : 0;
    MPI_Comm_set_errhandler(s.comm, MPI_ERRORS_RETURN);
    const int rc = MPI_Win_allocate(bytes, sizeof(std::uint64_t), MPI_INFO_NULL, s.comm, &base, &s.window);
    MPI_Comm_set_errhandler(s.comm, MPI_ERRORS_ARE_FATAL);
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(rc, text, &length);
    std::fprintf(stderr,
                 "parbench mpi: rank %d: MPI_Win_allocate failed (%.*s): this MPI has no one-sided transport "
                 "between these hosts (Debian's Open MPI leaves osc/pt2pt out: mpirun --mca osc sm,pt2pt)\n",
                 world().rank, length, text);
    MPI_Abort(MPI_COMM_WORLD, 5);
}
inline void close_window(session& s) { MPI_Win_free(&s.window); }

// The session of W ranks this rank belongs to.
[[nodiscard]] inline session session_of(unsigned workers) {
    session s;
    s.comm = world().comms[workers - 1];
    MPI_Comm_rank(s.comm, &s.rank);
    MPI_Comm_size(s.comm, &s.size);
    return s;
}

// A rank other than 0, in a session: runs rank 0's commands until it closes the session.
inline void serve_session(unsigned workers) {
    session s = session_of(workers);
    open_window(s);
    for (;;) {
        command c;
        MPI_Bcast(&c, sizeof c, MPI_BYTE, 0, s.comm);
        if (c.key == 0) break;
        if (c.key > jobs().size() || jobs()[c.key - 1].check != c.check) {
            std::fprintf(stderr,
                         "parbench mpi: rank %d got job %u, which this program does not have: every rank "
                         "must run the same program\n",
                         world().rank, c.key);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
        jobs()[c.key - 1].run(c, s, nullptr);
    }
    close_window(s);
}

// A rank other than 0: serves sessions until rank 0 ends the program; returns rank 0's exit status.
[[nodiscard]] inline int serve_until_quit() {
    for (;;) {
        const world_message m = world_receive();
        if (m.op == world_op::quit) return m.value;
        if (world().rank < m.value) serve_session(static_cast<unsigned>(m.value));
    }
}

// Rank 0: runs job `key` on every rank of session s (itself included) with command c; the result lands in out.
inline void run_job(command c, std::uint32_t key, const session& s, void* out) {
    c.key = key;
    c.check = jobs()[key - 1].check;
    watch().begin(s.size);
    MPI_Bcast(&c, sizeof c, MPI_BYTE, 0, s.comm);
    jobs()[key - 1].run(c, s, out);
    watch().end(true);
}

// Rank 0: a session of W ranks, open for this object's lifetime. One at a time.
class session_scope {
public:
    explicit session_scope(unsigned workers) {
        world_state& w = world();
        if (w.size == 0)
            throw std::logic_error(
                "parbench mpi: no MPI job (start the program with mpirun, and give it a "
                "parbench::mpi_session in main)");
        if (workers > static_cast<unsigned>(w.size))
            throw std::invalid_argument("parbench mpi: " + std::to_string(workers) + " workers need " +
                                        std::to_string(workers) + " ranks; this job has " + std::to_string(w.size) +
                                        " (mpirun -np " + std::to_string(workers) + ")");
        if (w.in_session) throw std::logic_error("parbench mpi: one mpi strategy at a time (a session is open)");
        watch().begin(static_cast<int>(workers));
        world_send({world_op::open, static_cast<std::int32_t>(workers)});
        session_ = session_of(workers);
        open_window(session_);
        watch().end(false);
        w.in_session = true;
    }
    ~session_scope() {
        command close;
        watch().begin(session_.size);
        MPI_Bcast(&close, sizeof close, MPI_BYTE, 0, session_.comm);
        close_window(session_);
        watch().end(false);
        world().in_session = false;
    }
    session_scope(const session_scope&) = delete;
    session_scope& operator=(const session_scope&) = delete;

    [[nodiscard]] const session& get() const noexcept { return session_; }

private:
    session session_;
};

}  // namespace parbench::detail::mpi
