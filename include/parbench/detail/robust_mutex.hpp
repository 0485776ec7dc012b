#pragma once
// A process-shared, robust pthread mutex. It works for threads and, placed in a MAP_SHARED mapping, for
// processes; when its owner dies holding it, the next locker gets EOWNERDEAD, marks it consistent and goes on,
// so one crashed worker cannot hang the others.

#include <pthread.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace parbench::detail {

class robust_mutex {
public:
    robust_mutex() {
        pthread_mutexattr_t attr;
        check(pthread_mutexattr_init(&attr), "pthread_mutexattr_init");
        check(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), "pthread_mutexattr_setpshared");
        check(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST), "pthread_mutexattr_setrobust");
        const int rc = pthread_mutex_init(&m_, &attr);
        pthread_mutexattr_destroy(&attr);
        check(rc, "pthread_mutex_init");
    }
    ~robust_mutex() { pthread_mutex_destroy(&m_); }
    robust_mutex(const robust_mutex&) = delete;
    robust_mutex& operator=(const robust_mutex&) = delete;

    void lock() {
        const int rc = pthread_mutex_lock(&m_);
        if (rc == EOWNERDEAD) {
            // The previous owner died inside its critical section. The counter it protected may be one short;
            // the strategy reports that worker's death, so the run errors anyway. Recover the lock itself.
            owner_died_ = true;
            pthread_mutex_consistent(&m_);
            return;
        }
        check(rc, "pthread_mutex_lock");
    }
    // False if another owner holds it; like lock(), recovers it from a dead owner.
    bool try_lock() {
        const int rc = pthread_mutex_trylock(&m_);
        if (rc == EBUSY) return false;
        if (rc == EOWNERDEAD) {
            owner_died_ = true;
            pthread_mutex_consistent(&m_);
            return true;
        }
        check(rc, "pthread_mutex_trylock");
        return true;
    }
    void unlock() noexcept { pthread_mutex_unlock(&m_); }

    // True once any locker recovered the mutex from a dead owner.
    [[nodiscard]] bool owner_died() const noexcept { return owner_died_; }

private:
    static void check(int rc, const char* what) {
        if (rc != 0) throw std::runtime_error(std::string("parbench: ") + what + ": " + std::strerror(rc));
    }

    pthread_mutex_t m_{};
    bool owner_died_ = false;
};

}  // namespace parbench::detail
