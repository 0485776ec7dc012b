#pragma once
// A seam for strategies that must know when a worker blocks. CPython drops its interpreter lock around
// time.sleep and I/O; a strategy that models that lock installs hooks on its worker threads, and kernels wrap
// their blocking calls in a blocking_scope. Without hooks the scope costs one thread-local load.

namespace parbench::detail {

struct blocking_hooks {
    void (*before)(void* ctx) = nullptr;  // called before the thread blocks
    void (*after)(void* ctx) = nullptr;   // called once it is runnable again
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

}  // namespace parbench::detail
