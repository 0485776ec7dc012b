#pragma once
// mpi: W MPI ranks, one chunk each (docs/mpi.md). Needs an MPI job: start the program with mpirun and give it a
// parbench::mpi_session (mpi_session.hpp); built only where CMake found MPI (link parbench::mpi).
// A run broadcasts the kernel's bytes and n from rank 0, every rank of the session runs its chunk (rank 0 runs
// chunk 0), and one MPI_Reduce combines the results with the kernel's own combine. A payload kernel's data is
// scattered from rank 0 and its output gathered back (run_payload_on_rank). The locked counters keep
// their shared counter in an MPI window at rank 0 (detail/mpi_counter.hpp). A kernel that throws on any rank
// becomes a worker_error naming the rank.

#include <mpi.h>

#include <array>
#include <bit>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../detail/mpi_counter.hpp"
#include "../detail/mpi_world.hpp"
#include "../error.hpp"
#include "../kernel.hpp"
#include "../payload.hpp"

namespace parbench::detail::mpi {

// What each rank contributes to the reduction: its chunk's result, or that it failed.
template <class R>
struct outcome {
    R value{};
    std::uint32_t failures = 0;
    std::int32_t first_failed = INT32_MAX;  // the lowest failed rank
};

// The MPI datatype and the combine of kernel K's outcomes, made on first use in each process.
template <kernel K>
struct reduction {
    using item = outcome<typename K::result>;
    MPI_Datatype type = MPI_DATATYPE_NULL;
    MPI_Op op = MPI_OP_NULL;

    // MPI_User_function's signature, which MPI_Op_create takes: len cannot be a pointer to const.
    static void combine(void* in, void* inout, int* len, MPI_Datatype*) {  // NOLINT(readability-non-const-parameter)
        for (std::size_t i = 0; i < static_cast<std::size_t>(*len); ++i) {
            item a;
            item b;
            std::memcpy(&a, static_cast<const std::byte*>(in) + i * sizeof(item), sizeof a);
            std::memcpy(&b, static_cast<std::byte*>(inout) + i * sizeof(item), sizeof b);
            if (a.failures == 0 && b.failures == 0) b.value = K::combine(a.value, b.value);
            b.failures += a.failures;
            b.first_failed = a.first_failed < b.first_failed ? a.first_failed : b.first_failed;
            std::memcpy(static_cast<std::byte*>(inout) + i * sizeof(item), &b, sizeof b);
        }
    }
    [[nodiscard]] static const reduction& get() {
        static const reduction r = [] {
            reduction made;
            MPI_Type_contiguous(static_cast<int>(sizeof(item)), MPI_BYTE, &made.type);
            MPI_Type_commit(&made.type);
            MPI_Op_create(&reduction::combine, 1, &made.op);  // commutative, as every kernel's combine is
            return made;
        }();
        return r;
    }
};

template <kernel K>
typename K::result run_chunk_on_rank(const K& k, chunk c, MPI_Win w) {
    if constexpr (is_locked_counter<K>) {
        return counter_chunk<counter_form<K>::placement>(c, w);
    } else {
        static_assert(plain_kernel<K>,
                      "the mpi strategy runs plain kernels and the locked counters; a kernel "
                      "with other shared state needs its own MPI form here");
        return k.run(c);
    }
}

// A payload kernel's chunk on this rank (payload.hpp): rank 0, which holds the data, scatters the input's chunks
// to the ranks (MPI_Scatterv), each runs its chunk (rank 0 in place), and rank 0 gathers the outputs into the
// caller's array (MPI_Gatherv). A kernel that throws is rethrown after the gather, which every rank joins.
template <payload_kernel K>
typename K::result run_payload_on_rank(const K& k, std::uint64_t n, const session& s) {
    using T = typename K::element;
    const auto ranks = static_cast<std::uint64_t>(s.size);
    const auto rank = static_cast<std::uint64_t>(s.rank);
    if (n > static_cast<std::uint64_t>(INT_MAX) / sizeof(T))  // the same n on every rank: all throw, none waits
        throw std::invalid_argument("parbench: mpi moves at most 2 GiB of payload (MPI's int counts)");
    std::vector<int> counts(static_cast<std::size_t>(ranks));
    std::vector<int> displs(static_cast<std::size_t>(ranks));
    for (std::uint64_t r = 0; r < ranks; ++r) {
        const chunk c = chunk_of(n, ranks, r);
        counts[r] = static_cast<int>(c.size() * sizeof(T));
        displs[r] = static_cast<int>(c.begin * sizeof(T));
    }
    const chunk mine = chunk_of(n, ranks, rank);
    std::vector<T> in(rank == 0 ? 0 : static_cast<std::size_t>(mine.size()));
    std::vector<T> out(in.size());
    if (rank == 0)
        MPI_Scatterv(k.input().data(), counts.data(), displs.data(), MPI_BYTE, MPI_IN_PLACE, 0, MPI_BYTE, 0, s.comm);
    else
        MPI_Scatterv(nullptr, nullptr, nullptr, MPI_BYTE, in.data(), counts[rank], MPI_BYTE, 0, s.comm);
    typename K::result r{};
    std::exception_ptr failed;
    try {
        r = rank == 0 ? k.run(mine) : k.run(mine, std::span<const T>(in), std::span<T>(out));
    } catch (...) {
        failed = std::current_exception();
    }
    if (rank == 0)
        MPI_Gatherv(MPI_IN_PLACE, 0, MPI_BYTE, k.output().data(), counts.data(), displs.data(), MPI_BYTE, 0, s.comm);
    else
        MPI_Gatherv(out.data(), counts[rank], MPI_BYTE, nullptr, nullptr, nullptr, MPI_BYTE, 0, s.comm);
    if (failed) std::rethrow_exception(failed);
    return r;
}

// Rank 0's view of one run: the reduced outcome and the first failed rank's message.
template <class R>
struct run_result {
    outcome<R> total;
    std::string message;
};

inline constexpr int error_tag = 7;
inline constexpr int message_size = 240;

// One run of kernel K, on every rank of the session.
template <kernel K>
void kernel_job(const command& c, const session& s, void* out) {
    using result = typename K::result;
    std::array<std::byte, sizeof(K)> bytes;
    std::memcpy(bytes.data(), c.payload, sizeof(K));
    const K k = std::bit_cast<K>(bytes);
    outcome<result> mine;
    std::string message;
    try {
        if constexpr (payload_kernel<K>)
            mine.value = run_payload_on_rank(k, c.n, s);
        else
            mine.value = run_chunk_on_rank(
                k, chunk_of(c.n, static_cast<std::uint64_t>(s.size), static_cast<std::uint64_t>(s.rank)), s.window);
    } catch (...) {
        mine.failures = 1;
        mine.first_failed = s.rank;
        message = describe(std::current_exception());
    }
    outcome<result> total;
    const auto& red = reduction<K>::get();
    MPI_Reduce(&mine, &total, 1, red.type, red.op, 0, s.comm);
    if (s.rank != 0) {
        if (mine.failures != 0) {
            message.resize(message_size - 1);
            MPI_Send(message.c_str(), message_size, MPI_CHAR, 0, error_tag, s.comm);
        }
        return;
    }
    auto& r = *static_cast<run_result<result>*>(out);
    r.total = total;
    r.message = message;
    for (std::uint32_t i = mine.failures; i < total.failures; ++i) {
        char buffer[message_size];
        MPI_Status status;
        MPI_Recv(buffer, message_size, MPI_CHAR, MPI_ANY_SOURCE, error_tag, s.comm, &status);
        if (status.MPI_SOURCE == total.first_failed) r.message.assign(buffer, strnlen(buffer, message_size));
    }
}

template <kernel K>
inline const std::uint32_t kernel_job_key = register_job<K>(&kernel_job<K>);

}  // namespace parbench::detail::mpi

namespace parbench::strategies {

class mpi {
public:
    static constexpr std::string_view name = "mpi";
    static constexpr bool sweeps_workers = true;
    // Ranks 1..W-1 are other processes, not this one's children (on other hosts, too): a harness that times the
    // CPU of its process tree sees rank 0's alone.
    static constexpr bool workers_outside_tree = true;

    // Opens a session of ranks 0..W-1 for this object's lifetime. Throws std::invalid_argument if W is outside
    // [1, max_workers] or above the job's ranks, std::logic_error without an MPI job or while another mpi
    // strategy object is alive.
    explicit mpi(unsigned workers) : workers_(checked(workers)), session_(workers) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        static_assert(sizeof(K) <= sizeof(detail::mpi::command::payload),
                      "the mpi strategy sends a kernel in 40 bytes");
        if constexpr (payload_kernel<K>) detail::check_payload(k, n);
        using result = typename K::result;
        const auto& s = session_.get();
        if constexpr (detail::mpi::is_locked_counter<K>) detail::mpi::zero_counters(s.window);
        detail::mpi::command c;
        c.n = n;
        std::memcpy(c.payload, &k, sizeof(K));
        detail::mpi::run_result<result> r;
        detail::mpi::run_job(c, detail::mpi::kernel_job_key<K>, s, &r);
        if (r.total.failures != 0)
            throw worker_error(static_cast<unsigned>(r.total.first_failed), workers_, failure::exception, r.message);
        if constexpr (detail::mpi::is_locked_counter<K>) {
            return detail::mpi::finish_counter(k, s.window, r.total.value);
        } else if constexpr (payload_kernel<K>) {
            detail::no_state none;
            return detail::finish(k, none, r.total.value);  // the output's checksum, as rank 0 holds it
        } else {
            return r.total.value;
        }
    }

    [[nodiscard]] unsigned workers() const noexcept { return workers_; }

    // The most workers this program can have: its MPI job's ranks, 0 without one.
    [[nodiscard]] static unsigned available_workers() noexcept {
        return static_cast<unsigned>(detail::mpi::world().size);
    }

    // Why workers above available_workers() cannot run, in words.
    [[nodiscard]] static std::string unavailable_reason() {
        const unsigned p = available_workers();
        if (p == 0) return "no MPI job (start the program with mpirun -np P)";
        return "this MPI job has " + std::to_string(p) + (p == 1 ? " rank" : " ranks") + " (mpirun -np P for more)";
    }

private:
    static unsigned checked(unsigned workers) {
        detail::check_workers(workers);
        return workers;
    }

    unsigned workers_;
    detail::mpi::session_scope session_;
};

}  // namespace parbench::strategies
