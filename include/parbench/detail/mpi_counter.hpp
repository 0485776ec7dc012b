#pragma once
// The locked counters' MPI form (docs/mpi.md): their shared counter lives in the session's one-sided window at
// rank 0, slot 0 the locked count and slot 1 the atomic count. coarse and fine take an exclusive lock on it (for
// the whole chunk, or around every increment), atomic does one MPI_Fetch_and_op per increment, and sharded
// counts privately and adds its count in the reduction. Rank 0 zeroes the window before a run and reads it after.

#include <mpi.h>

#include <cstdint>

#include "../keep.hpp"
#include "../kernel.hpp"
#include "../kernels/locked_counter.hpp"

namespace parbench::detail::mpi {

// The locked counters' placement, which picks their MPI form.
template <class K>
struct counter_form {
    static constexpr bool locked_counter = false;
};
template <kernels::lock_placement P>
struct counter_form<kernels::locked_counter<P>> {
    static constexpr bool locked_counter = true;
    static constexpr kernels::lock_placement placement = P;
};
template <class K>
inline constexpr bool is_locked_counter = counter_form<K>::locked_counter;

// A locked counter's chunk on one rank; slot 0 of the window is the locked count, slot 1 the atomic count.
template <kernels::lock_placement P>
std::uint64_t counter_chunk(chunk c, MPI_Win w) {
    using kernels::lock_placement;
    std::uint64_t v = 0;
    if constexpr (P == lock_placement::coarse || P == lock_placement::fine) {
        const std::uint64_t times = P == lock_placement::coarse ? (c.empty() ? 0 : 1) : c.size();
        for (std::uint64_t t = 0; t < times; ++t) {
            MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, w);
            MPI_Get(&v, 1, MPI_UINT64_T, 0, 0, 1, MPI_UINT64_T, w);
            MPI_Win_flush(0, w);
            if constexpr (P == lock_placement::coarse) {
                for (std::uint64_t i = c.begin; i < c.end; ++i) {
                    parbench::keep(v);
                    ++v;
                }
            } else {
                ++v;
            }
            MPI_Put(&v, 1, MPI_UINT64_T, 0, 0, 1, MPI_UINT64_T, w);
            MPI_Win_unlock(0, w);
        }
        return 0;
    } else if constexpr (P == lock_placement::atomic) {
        const std::uint64_t one = 1;
        MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, w);
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            MPI_Fetch_and_op(&one, &v, MPI_UINT64_T, 0, 1, MPI_SUM, w);
            MPI_Win_flush(0, w);
        }
        MPI_Win_unlock(0, w);
        return 0;
    } else {
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            parbench::keep(v);
            ++v;
        }
        return v;  // added to the others' in the reduction
    }
}

// Rank 0, before a run: both counts to zero.
inline void zero_counters(MPI_Win w) {
    std::uint64_t v[2] = {0, 0};
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, w);
    MPI_Put(v, 2, MPI_UINT64_T, 0, 0, 2, MPI_UINT64_T, w);
    MPI_Win_unlock(0, w);
}

// Rank 0, after a run: the counts in the window as the kernel's state, and the kernel's result from them and
// the reduced sharded count.
template <kernel K>
requires is_locked_counter<K>
typename K::result finish_counter(const K& k, MPI_Win w, typename K::result reduced) {
    state_t<K> state;
    std::uint64_t counts[2] = {0, 0};
    MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, w);
    MPI_Get(counts, 2, MPI_UINT64_T, 0, 0, 2, MPI_UINT64_T, w);
    MPI_Win_unlock(0, w);
    state.locked_count = counts[0];
    state.atomic_count.store(counts[1]);
    return k.finish(state, reduced);
}

}  // namespace parbench::detail::mpi
