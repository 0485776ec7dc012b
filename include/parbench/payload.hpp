#pragma once
// The payload_kernel concept: a kernel whose data the caller holds. The kernel value stays small and trivially
// copyable (it points at the caller's arrays); what a strategy must do with the data it points at is part of the
// concept, so that every strategy moves the data the way its Python analogue does:
// - in-process strategies call run(c), which reads and writes the caller's arrays in place (threads share them);
// - a strategy whose workers are other processes never follows the kernel's pointers there: it ships chunk c's
//   input, input().subspan(c.begin, c.size()), to the worker, which calls run(c, in, out) on its own copies, and
//   ships out back into output() (detail/payload_io.hpp: pipes, a shared mapping, a pool's data area, MPI).
// run(c, in, out) must give the same result and the same output whether c is run whole or in pieces, so a worker
// may stream its chunk through in blocks. finish(combined) is run by the caller once every chunk's output is back.
// (kernels::payload's output_in_place(n) reads output() back, outside the runs: bench_parallel checks after the
// timed runs that the transformed data reached the caller, in its place.)

#include <concepts>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "chunk.hpp"
#include "kernel.hpp"

namespace parbench {

template <class K>
concept payload_kernel = plain_kernel<K> &&
    requires(const K& k, chunk c, typename K::result r, std::span<const typename K::element> in,
             std::span<typename K::element> out) {
    requires std::is_trivially_copyable_v<typename K::element>;
    { k.input() } -> std::same_as<std::span<const typename K::element>>;  // the caller's input, elements [0, n)
    { k.output() } -> std::same_as<std::span<typename K::element>>;       // where the caller wants the output
    { k.run(c, in, out) } -> std::same_as<typename K::result>;            // in[0], out[0]: element c.begin
    { k.finish(r) } -> std::same_as<typename K::result>;
};

namespace detail {

// Refuses a run over more elements than the caller's arrays hold.
template <payload_kernel K>
void check_payload(const K& k, std::uint64_t n) {
    if (n > k.input().size() || n > k.output().size())
        throw std::invalid_argument("parbench: a run over " + std::to_string(n) + " elements of a payload of " +
                                    std::to_string(k.input().size()) + " in, " + std::to_string(k.output().size()) +
                                    " out");
}

}  // namespace detail

}  // namespace parbench
