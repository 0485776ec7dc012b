#pragma once
// What a kernel calls so that a strategy modelling an interpreter lock (gil_threads) behaves as CPython does.
// CPython drops its lock around time.sleep and I/O, and its holder checks the "eval breaker" every few bytecodes
// to hand the lock over when another thread asks. So a kernel
// - runs its element loop in_slices(c, f), which lets the lock be handed over between slices: a kernel that
//   loops over c directly holds the lock for its whole chunk, and gil_threads then never switches mid-chunk;
// - wraps a call that blocks (a sleep, I/O) in a blocking_scope, which releases the lock for the scope's life;
// - takes a lock of its own with lock_blocking(m), which waits with the interpreter lock released.
// Under any other strategy these cost one thread-local load each.

#include <cstdint>

#include "chunk.hpp"

namespace parbench {
namespace detail {

// What a strategy installs on its worker threads (gil_threads: detail/gil.hpp).
struct blocking_hooks {
    void (*before)(void* ctx) = nullptr;        // called before the thread blocks
    void (*after)(void* ctx) = nullptr;         // called once it is runnable again
    void (*eval_breaker)(void* ctx) = nullptr;  // called between slices of kernel work; may hand the lock over
    void* ctx = nullptr;
};

inline thread_local const blocking_hooks* current_blocking_hooks = nullptr;

inline void eval_breaker() {
    if (const blocking_hooks* h = current_blocking_hooks; h != nullptr && h->eval_breaker != nullptr)
        h->eval_breaker(h->ctx);
}

}  // namespace detail

// Marks the thread as blocked (in a sleep, I/O, a lock) for the scope's life.
class blocking_scope {
public:
    blocking_scope() noexcept : hooks_(detail::current_blocking_hooks) {
        if (hooks_ != nullptr) hooks_->before(hooks_->ctx);
    }
    ~blocking_scope() {
        if (hooks_ != nullptr) hooks_->after(hooks_->ctx);
    }
    blocking_scope(const blocking_scope&) = delete;
    blocking_scope& operator=(const blocking_scope&) = delete;

private:
    const detail::blocking_hooks* hooks_;
};

// Takes a lock the way CPython's Lock.acquire does: without blocking if it can, else with the interpreter lock
// released while it waits (a holder that dropped the interpreter lock inside its critical section needs it back).
template <class Mutex>
void lock_blocking(Mutex& m) {
    if (detail::current_blocking_hooks == nullptr) return m.lock();
    if (m.try_lock()) return;
    blocking_scope blocking;
    m.lock();
}

// Elements of kernel work between two eval-breaker checks. CPython checks every few bytecodes (a loop iteration
// or a call); an element of parbench's kernels is far cheaper than a bytecode, so a slice of 1024 keeps a
// hand-over prompt without making the check a cost of its own (docs/gil.md).
inline constexpr std::uint64_t eval_breaker_interval = 1024;

// Calls f(slice) on consecutive slices of c of eval_breaker_interval elements, checking the eval breaker after each.
template <class F>
void in_slices(chunk c, F&& f) {
    for (std::uint64_t b = c.begin; b < c.end;) {
        const std::uint64_t e = c.end - b > eval_breaker_interval ? b + eval_breaker_interval : c.end;
        f(chunk{b, e});
        b = e;
        detail::eval_breaker();
    }
}

}  // namespace parbench
