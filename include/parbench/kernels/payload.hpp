#pragma once
// payload: data the caller holds (issue 25's "moving the data"; payload.hpp says how each strategy moves it). The
// caller holds n doubles, B = 8n bytes; one run reduces them (their sum) and transforms each, out[i] = f(in[i]),
// into the caller's output array of n doubles: B bytes in, B bytes back.
// - f is `units` steps of a 64-bit linear congruential generator, v = v * a + c, started from the input's value
//   (an integer below 2^20), and out[i] = double(v >> 11), exact. The elements' chains are made to depend on one
//   another through an opaque zero, so a unit costs one chain step whatever the units per element: the work is
//   fixed per unit, not overlapped more when elements are cheap.
// - `work`, when set, fixes the work of a whole run: bind(n) gives each of n elements work / n units (at least
//   1), so a sweep of B at fixed work shows the cost of moving the data alone.
// - The input is what payload_data writes (value_at(i), periodic in i with period 4096), so the sum is exact in
//   any order and the oracle costs one period.
// The total: the input's weighted sum Σ (2i + 1) in[i] and the output's checksum Σ (2i + 1) out[i] (modulo 2^64,
// values as integers), both from the workers as they read and write their chunks (each got its own chunk's input
// and computed its output right). That the output reached the caller, in its place, is not read back in the run:
// a pass over B in the caller after the workers' runs would add to every run a serial read of B that no strategy's
// Python analogue pays (the caller gets its results; it does not checksum them). output_in_place(n) reads it
// back, outside the timing: bench_parallel checks it after every benchmark's timed runs and the tests after
// their runs (test_payload.cpp checks every element).

#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "../blocking.hpp"
#include "../chunk.hpp"
#include "../detail/shm.hpp"
#include "../detail/splitmix.hpp"
#include "../keep.hpp"
#include "../payload.hpp"

namespace parbench::kernels {

// payload's total.
struct payload_total {
    std::uint64_t sum = 0;     // Σ (2i + 1) in[i], modulo 2^64
    std::uint64_t output = 0;  // Σ (2i + 1) out[i], as the caller holds out after the run
    friend bool operator==(const payload_total&, const payload_total&) = default;
    friend std::ostream& operator<<(std::ostream& os, const payload_total& t) {
        return os << "{sum " << t.sum << ", output " << t.output << "}";
    }
};

class payload_data;

struct payload {
    using result = payload_total;
    using element = double;
    static constexpr std::string_view name = "payload";
    static constexpr std::uint64_t period = 4096;
    static constexpr std::uint64_t lcg_a = 6364136223846793005ULL;  // Knuth's MMIX constants
    static constexpr std::uint64_t lcg_c = 1442695040888963407ULL;

    const double* in = nullptr;  // the caller's input, `size` elements
    double* out = nullptr;       // the caller's output, `size` elements
    std::uint64_t size = 0;
    std::uint64_t units = 1;  // work per element, in chain steps
    std::uint64_t work = 0;   // if not 0: bind(n) spreads this many units over the n elements

    // Element i of the input payload_data makes: an integer below 2^20.
    [[nodiscard]] static constexpr double value_at(std::uint64_t i) noexcept {
        return static_cast<double>(parbench::detail::splitmix64(i % period) >> 44);
    }
    // f's value as an integer (< 2^53), from the input x plus `link`: with link 0, what run() writes for x (its loop
    // computes the same steps, tied to the previous element differently) and what the oracle uses.
    [[nodiscard]] static constexpr std::uint64_t transform(double x, std::uint64_t units, std::uint64_t link) noexcept {
        std::uint64_t v = static_cast<std::uint64_t>(x) + link;
        for (std::uint64_t u = 0; u < units; ++u) v = v * lcg_a + lcg_c;
        return v >> 11;
    }

    [[nodiscard]] std::span<const double> input() const noexcept { return {in, size}; }
    [[nodiscard]] std::span<double> output() const noexcept { return {out, size}; }

    // Chunk c with its own slices: src[0] and dst[0] are element c.begin.
    [[nodiscard]] result run(chunk c, std::span<const double> src, std::span<double> dst) const {
        if (src.size() < c.size() || dst.size() < c.size())
            throw std::out_of_range("payload: slices shorter than their chunk");
        std::uint64_t sum = 0;
        std::uint64_t written = 0;  // Σ (2i + 1) out[i] over the chunk, of the values as they are written
        std::uint64_t zero = 0;
        keep(zero);              // the compiler cannot know it is 0: each element's chain waits for the previous one
        std::uint64_t link = 0;  // the previous element's last LCG state
        in_slices(c, [&, zero](chunk s) {
            // transform(x, units, 0), with the tie to the previous element costing what a unit costs: the first
            // step depends on the input alone, `keep` stops it being merged with the tie, and the tie
            // (link * zero, one multiply and one add) takes the place of that step on the chain. The running
            // values are locals of the slice, so that they stay in registers.
            // The weighted sums cost two adds an element and no multiply (the chain's steps are multiplies; see
            // weighted).
            weighted read;
            weighted wrote;
            std::uint64_t slice_link = link;
            for (std::uint64_t i = s.begin; i < s.end; ++i) {
                const double x = src[i - c.begin];
                const auto xi = static_cast<std::uint64_t>(x);
                read.add(xi);
                std::uint64_t v = units == 0 ? xi : xi * lcg_a + lcg_c;
                keep(v);
                v += slice_link * zero;
                for (std::uint64_t u = 1; u < units; ++u) v = v * lcg_a + lcg_c;
                slice_link = v;
                wrote.add(v >> 11);
                dst[i - c.begin] = static_cast<double>(v >> 11);
            }
            sum += read.total(s.end);
            written += wrote.total(s.end);
            link = slice_link;
        });
        return {sum, written};
    }
    // Chunk c on the caller's arrays, in place (what in-process strategies run).
    [[nodiscard]] result run(chunk c) const {
        if (c.end > size)
            throw std::out_of_range("payload: chunk ends at " + std::to_string(c.end) + ", past the " +
                                    std::to_string(size) + " elements the caller holds");
        return run(c, input().subspan(c.begin, c.size()), output().subspan(c.begin, c.size()));
    }
    // Σ (2i + 1) v_i, modulo 2^64, over consecutive elements i = e - m, ..., e - 1, from two running sums: `once`
    // = Σ v_i and `summed`, which adds `once` after each element, = Σ (e - i) v_i. Then Σ (2i + 1) v_i
    // = (2e + 1) once - 2 summed, exactly modulo 2^64: two adds an element and the multiply once.
    struct weighted {
        std::uint64_t once = 0;    // Σ v_i
        std::uint64_t summed = 0;  // Σ of `once` after each element
        void add(std::uint64_t v) noexcept {
            once += v;
            summed += once;
        }
        [[nodiscard]] std::uint64_t total(std::uint64_t end) const noexcept {
            return (2 * end + 1) * once - 2 * summed;
        }
    };

    [[nodiscard]] static constexpr result combine(result a, result b) noexcept {
        return {a.sum + b.sum, a.output + b.output};
    }
    // In the caller, once every chunk is back: the workers' total as it is (output_in_place checks the output).
    [[nodiscard]] result finish(result combined) const noexcept { return combined; }
    // Whether the caller's output holds, in its place, what a run over all n elements writes (a pass over it).
    [[nodiscard]] bool output_in_place(std::uint64_t n) const {
        return n <= size && checksum(output().first(n)) == expected(n).output;
    }
    // Σ (2i + 1) · values[i] modulo 2^64, the values as integers: a value in the wrong place changes it.
    [[nodiscard]] static std::uint64_t checksum(std::span<const double> values) noexcept {
        std::uint64_t s = 0;
        for (std::size_t i = 0; i < values.size(); ++i) s += static_cast<std::uint64_t>(values[i]) * (2 * i + 1);
        return s;
    }
    // For a run over all `size` elements of the input payload_data makes. Remembered per (n, units): an oracle of a
    // few periods costs as much as a run.
    [[nodiscard]] result expected(std::uint64_t n) const {
        static std::mutex m;
        static std::map<std::pair<std::uint64_t, std::uint64_t>, result> known;
        const std::lock_guard lock(m);
        if (const auto it = known.find({n, units}); it != known.end()) return it->second;
        // Elements i = r + j * period, j < q, share value_at(r); their weights 2i + 1 add up to
        // q (2r + 1) + period q (q - 1) (all modulo 2^64).
        result total{};
        for (std::uint64_t r = 0; r < period && r < n; ++r) {
            const std::uint64_t q = (n - r + period - 1) / period;
            const std::uint64_t weight = q * (2 * r + 1) + period * q * (q - 1);
            const double x = value_at(r);
            total.sum += static_cast<std::uint64_t>(x) * weight;
            total.output += transform(x, units, 0) * weight;
        }
        if (known.size() > 256) known.clear();
        known.emplace(std::pair{n, units}, total);
        return total;
    }

    // The caller's arrays for a run over n elements, this kernel bound to them (payload_data).
    [[nodiscard]] payload_data bind(std::uint64_t n) const;
};

// What the caller holds: n input elements (value_at) and n output elements, in memory of this process alone
// (fresh pages, all touched before the first run), and the kernel bound to them. The output starts
// output_offset bytes into its mapping, so that in[i] and out[i] do not share the low 12 bits of their addresses.
// Where they do (both arrays page-aligned, as two mappings are), the CPU serves the two streams worse: the same
// threads' run at few units an element took a quarter longer than with the output shifted (4K aliasing, or the
// cache sets the two streams then share; docs/results.md, issue 25): the shift keeps that artefact of where two
// arrays happen to lie out of what moving the data costs.
class payload_data {
public:
    static constexpr std::size_t output_offset = 2048 + 64;  // half a page and a cache line

    payload_data(std::uint64_t n, std::uint64_t units)
        : in_(bytes(n)),
          out_(bytes(n) + output_offset),
          kernel_{static_cast<const double*>(in_.data()),
                  reinterpret_cast<double*>(static_cast<char*>(out_.data()) + output_offset), n, units, 0} {
        auto* input = static_cast<double*>(in_.data());
        for (std::uint64_t i = 0; i < n; ++i) input[i] = payload::value_at(i);
        for (std::uint64_t i = 0; i < n; ++i) kernel_.out[i] = 0;
    }
    [[nodiscard]] const payload& kernel() const noexcept { return kernel_; }

private:
    static std::size_t bytes(std::uint64_t n) { return n == 0 ? 1 : static_cast<std::size_t>(n) * sizeof(double); }
    parbench::detail::private_mapping in_;
    parbench::detail::private_mapping out_;
    payload kernel_;
};

inline payload_data payload::bind(std::uint64_t n) const {
    return {n, work != 0 ? (work / (n == 0 ? 1 : n) > 0 ? work / (n == 0 ? 1 : n) : 1) : units};
}

}  // namespace parbench::kernels
