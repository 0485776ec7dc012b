#pragma once
// The seams for strategies that model an interpreter lock (gil_threads). CPython drops its lock around time.sleep
// and I/O, and its holder checks the "eval breaker" every few bytecodes to hand the lock over when asked. Here a
// strategy installs hooks on its worker threads; kernels wrap blocking calls in a blocking_scope and run their
// loops in_slices, which calls eval_breaker() every eval_breaker_interval elements. Without hooks each costs one
// thread-local load.

#include <cstdint>

#include "../chunk.hpp"

namespace parbench::detail {

struct blocking_hooks {
    void (*before)(void* ctx) = nullptr;        // called before the thread blocks
    void (*after)(void* ctx) = nullptr;         // called once it is runnable again
    void (*eval_breaker)(void* ctx) = nullptr;  // called between slices of kernel work; may hand the lock over
    void* ctx = nullptr;
};

inline thread_local const blocking_hooks* current_blocking_hooks = nullptr;

class blocking_scope {
public:
    blocking_scope() noexcept : hooks_(current_blocking_hooks) {
        if (hooks_ != nullptr) hooks_->before(hooks_->ctx);
    }
    ~blocking_scope() {
        if (hooks_ != nullptr) hooks_->after(hooks_->ctx);
    }
    blocking_scope(const blocking_scope&) = delete;
    blocking_scope& operator=(const blocking_scope&) = delete;

private:
    const blocking_hooks* hooks_;
};

// Takes a lock the way CPython's Lock.acquire does: without blocking if it can, else with the interpreter lock
// released while it waits (a holder that dropped the interpreter lock inside its critical section needs it back).
template <class Mutex>
void lock_blocking(Mutex& m) {
    if (current_blocking_hooks == nullptr) return m.lock();
    if (m.try_lock()) return;
    blocking_scope blocking;
    m.lock();
}

// Elements of kernel work between two eval-breaker checks. CPython checks every few bytecodes (a loop iteration
// or a call); a C++ element costs ~1 ns, so 1024 of them keep a hand-over within microseconds of being asked for.
inline constexpr std::uint64_t eval_breaker_interval = 1024;

inline void eval_breaker() {
    if (const blocking_hooks* h = current_blocking_hooks; h != nullptr && h->eval_breaker != nullptr)
        h->eval_breaker(h->ctx);
}

// Calls f(slice) on consecutive slices of c of eval_breaker_interval elements, checking the eval breaker after each.
template <class F>
void in_slices(chunk c, F&& f) {
    for (std::uint64_t b = c.begin; b < c.end;) {
        const std::uint64_t e = c.end - b > eval_breaker_interval ? b + eval_breaker_interval : c.end;
        f(chunk{b, e});
        b = e;
        eval_breaker();
    }
}

}  // namespace parbench::detail
