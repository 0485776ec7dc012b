#pragma once
// A single-producer single-consumer byte ring in anonymous shared memory: one process (or thread) writes, one
// reads, and either side parks on a futex when the ring is full or empty. Create it before fork; both processes
// then see the same ring. No locks: head and tail are counters of bytes ever written and read, each stored by one
// side only.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>

#include "parbench/detail/shm.hpp"
#include "parbench/detail/spin.hpp"
#include "parbench/detail/wait.hpp"

namespace parbench::bench::ipc {

namespace pd = parbench::detail;

class shm_ring {
public:
    // Capacity in bytes, rounded up to a power of two (at least 64).
    explicit shm_ring(std::size_t capacity)
        : capacity_(round_up(capacity)),
          map_(sizeof(header) + capacity_),
          h_(::new (map_.data()) header{}),
          data_(static_cast<unsigned char*>(map_.data()) + sizeof(header)),
          spins_(pd::available_cpus() > 1 ? 256 : 0) {}
    shm_ring(const shm_ring&) = delete;
    shm_ring& operator=(const shm_ring&) = delete;

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

    // Copies as much of [data, data + size) as fits now; never blocks. Producer side only.
    std::size_t try_write(const void* data, std::size_t size) noexcept {
        const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
        const std::uint64_t tail = h_->tail.load(std::memory_order_acquire);
        const std::size_t n = std::min<std::size_t>(size, capacity_ - static_cast<std::size_t>(head - tail));
        if (n == 0) return 0;
        copy_in(static_cast<std::size_t>(head) & (capacity_ - 1), static_cast<const unsigned char*>(data), n);
        // seq_cst store and load on both sides (Dekker): either the reader sees the new head, or we see it waiting.
        h_->head.store(head + n, std::memory_order_seq_cst);
        if (h_->reader_waiting.load(std::memory_order_seq_cst) != 0) wake(h_->data_seq);
        return n;
    }

    // Copies up to `size` bytes that are there now; never blocks. Consumer side only.
    std::size_t try_read(void* data, std::size_t size) noexcept {
        const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
        const std::uint64_t head = h_->head.load(std::memory_order_acquire);
        const std::size_t n = std::min<std::size_t>(size, static_cast<std::size_t>(head - tail));
        if (n == 0) return 0;
        copy_out(static_cast<std::size_t>(tail) & (capacity_ - 1), static_cast<unsigned char*>(data), n);
        h_->tail.store(tail + n, std::memory_order_seq_cst);
        if (h_->writer_waiting.load(std::memory_order_seq_cst) != 0) wake(h_->space_seq);
        return n;
    }

    // Writes all `size` bytes, parking while the ring is full. Returns fewer if the ring was closed or no space
    // appeared within `timeout` (the reader is gone or stuck).
    std::size_t write(const void* data, std::size_t size,
                      std::chrono::nanoseconds timeout = pd::futex_forever) noexcept {
        const auto* p = static_cast<const unsigned char*>(data);
        std::size_t done = 0;
        while (done < size) {
            const std::size_t n = try_write(p + done, size - done);
            done += n;
            if (n == 0 && !await(
                              h_->space_seq, h_->writer_waiting, [&] { return space() > 0; }, timeout))
                break;
        }
        return done;
    }

    // Reads exactly `size` bytes, parking while the ring is empty. Returns fewer if the ring was closed and drained
    // (end of data) or no data arrived within `timeout`.
    std::size_t read(void* data, std::size_t size, std::chrono::nanoseconds timeout = pd::futex_forever) noexcept {
        auto* p = static_cast<unsigned char*>(data);
        std::size_t done = 0;
        while (done < size) {
            const std::size_t n = try_read(p + done, size - done);
            done += n;
            if (n == 0 && !await(
                              h_->data_seq, h_->reader_waiting, [&] { return available() > 0; }, timeout)) {
                done += try_read(p + done, size - done);  // what arrived just before the close
                break;
            }
        }
        return done;
    }

    // Either side: no more transfers. The other side's blocking call returns short once it runs out.
    void close() noexcept {
        h_->closed.store(1, std::memory_order_seq_cst);
        wake(h_->data_seq);
        wake(h_->space_seq);
    }
    [[nodiscard]] bool closed() const noexcept { return h_->closed.load(std::memory_order_acquire) != 0; }

    [[nodiscard]] std::size_t available() const noexcept {
        return static_cast<std::size_t>(h_->head.load(std::memory_order_seq_cst) -
                                        h_->tail.load(std::memory_order_seq_cst));
    }
    [[nodiscard]] std::size_t space() const noexcept { return capacity_ - available(); }

private:
    // Each side's counter and the futex word it parks on share a cache line written by that side only.
    struct header {
        alignas(64) std::atomic<std::uint64_t> head{0};  // bytes ever written (producer stores)
        std::atomic<std::uint32_t> space_seq{0};         // producer parks here when full
        std::atomic<std::uint32_t> writer_waiting{0};
        alignas(64) std::atomic<std::uint64_t> tail{0};  // bytes ever read (consumer stores)
        std::atomic<std::uint32_t> data_seq{0};          // consumer parks here when empty
        std::atomic<std::uint32_t> reader_waiting{0};
        alignas(64) std::atomic<std::uint32_t> closed{0};
    };

    static std::size_t round_up(std::size_t c) {
        if (c > (std::size_t{1} << 40)) throw std::invalid_argument("parbench: shm_ring capacity too large");
        std::size_t p = 64;
        while (p < c) p <<= 1;
        return p;
    }

    static void wake(std::atomic<std::uint32_t>& seq) noexcept {
        seq.fetch_add(1, std::memory_order_seq_cst);
        pd::wake_waiters(seq, nullptr, pd::futex_scope::shared, 1);
    }

    // Waits until ready() or closed: spins briefly where another CPU can answer, then parks on `seq`, which the
    // other side bumps (wake) after its counter when it sees `waiting`. False when closed or out of time.
    template <class Ready>
    bool await(std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& waiting, Ready ready,
               std::chrono::nanoseconds timeout) noexcept {
        for (unsigned i = 0; i < spins_; ++i) {
            if (ready()) return true;
            if (closed()) return false;
            pd::cpu_relax();
        }
        using steady = std::chrono::steady_clock;
        const bool forever = timeout.count() < 0;
        const auto deadline = forever ? steady::time_point::max() : steady::now() + timeout;
        for (;;) {
            // `waiting` first, then the re-check: either we see the other side's counter or it sees us waiting.
            const std::uint32_t s = seq.load(std::memory_order_seq_cst);
            waiting.store(1, std::memory_order_seq_cst);
            if (ready() || closed()) break;
            const std::chrono::nanoseconds left = forever ? pd::futex_forever : deadline - steady::now();
            if (!forever && left.count() <= 0) break;
            (void)pd::wait_while(seq, s, {.timeout = left});  // a bump of seq need not mean ready: loop
        }
        waiting.store(0, std::memory_order_relaxed);
        return ready();
    }

    void copy_in(std::size_t at, const unsigned char* src, std::size_t n) noexcept {
        const std::size_t first = std::min(n, capacity_ - at);
        std::memcpy(data_ + at, src, first);
        std::memcpy(data_, src + first, n - first);
    }
    void copy_out(std::size_t at, unsigned char* dst, std::size_t n) const noexcept {
        const std::size_t first = std::min(n, capacity_ - at);
        std::memcpy(dst, data_ + at, first);
        std::memcpy(dst + first, data_, n - first);
    }

    std::size_t capacity_;
    pd::shared_mapping map_;
    header* h_;
    unsigned char* data_;
    unsigned spins_;
};

}  // namespace parbench::bench::ipc
