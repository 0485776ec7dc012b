#pragma once
// Anonymous MAP_SHARED memory: what a parent and the children it forks afterwards all see at the same address;
// and memfd-backed MAP_SHARED memory, which a process that did not fork from this one maps through a descriptor.

#include <sys/mman.h>
#include <sys/stat.h>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "fd.hpp"

namespace parbench::detail {

// Owns one anonymous shared mapping of `size` bytes (rounded up to pages by the kernel), zero-filled.
class shared_mapping {
public:
    shared_mapping() noexcept = default;
    explicit shared_mapping(std::size_t size) : shared_mapping(size, MAP_SHARED) {}
    shared_mapping(shared_mapping&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    shared_mapping& operator=(shared_mapping&& o) noexcept {
        if (this != &o) {
            unmap();
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~shared_mapping() { unmap(); }
    shared_mapping(const shared_mapping&) = delete;
    shared_mapping& operator=(const shared_mapping&) = delete;

    [[nodiscard]] void* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

protected:
    // sharing: MAP_SHARED or MAP_PRIVATE; fd: -1 for anonymous memory, else the file to map from offset 0.
    shared_mapping(std::size_t size, int sharing, int fd = -1) : size_(size) {
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, sharing | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
        if (p == MAP_FAILED)
            throw_errno(fd >= 0 ? "mmap(fd)" : sharing == MAP_SHARED ? "mmap(MAP_SHARED)" : "mmap(MAP_PRIVATE)");
        data_ = p;
    }

private:
    void unmap() noexcept {
        if (data_ != nullptr) ::munmap(data_, size_);
        data_ = nullptr;
    }
    void* data_ = nullptr;
    std::size_t size_ = 0;
};

// Anonymous memory of this process alone, straight from the kernel: every page is a fresh zero page on its first
// touch and goes back to the kernel on destruction, whatever the size (unlike malloc, which reuses small blocks
// and maps large ones anew). Not shared with children: a fork copies it on write.
class private_mapping : public shared_mapping {
public:
    private_mapping() noexcept = default;
    explicit private_mapping(std::size_t size) : shared_mapping(size, MAP_PRIVATE) {}
};

// A memfd of `size` bytes, zero-filled and mapped MAP_SHARED. The descriptor is close-on-exec: pass it on
// explicitly (spawn_self, SCM_RIGHTS), and the other process maps it with of_fd().
class memfd_mapping : public shared_mapping {
public:
    explicit memfd_mapping(std::size_t size) : memfd_mapping(make(size), size) {}

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

    // In another process: the whole file behind `fd`, mapped MAP_SHARED.
    [[nodiscard]] static shared_mapping of_fd(int fd) {
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw_errno("fstat(memfd)");
        return memfd_mapping(unique_fd(), fd, static_cast<std::size_t>(st.st_size));
    }

private:
    static unique_fd make(std::size_t size) {
        unique_fd fd(::memfd_create("parbench-shared", MFD_CLOEXEC));
        if (!fd) throw_errno("memfd_create");
        if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) throw_errno("ftruncate(memfd)");
        return fd;
    }
    memfd_mapping(unique_fd fd, std::size_t size) : shared_mapping(size, MAP_SHARED, fd.get()), fd_(std::move(fd)) {}
    memfd_mapping(unique_fd none, int fd, std::size_t size)
        : shared_mapping(size, MAP_SHARED, fd), fd_(std::move(none)) {}

    unique_fd fd_;
};

// One T constructed in its own shared mapping, destroyed with it. T must be usable from several processes:
// no pointers into one process's heap, process-shared locks, lock-free atomics. Mapping: shared_mapping (the
// children this process forks see it), or memfd_mapping (any process that gets the descriptor, fd(), maps it).
template <class T, class Mapping = shared_mapping>
class shared_object {
public:
    template <class... Args>
    explicit shared_object(Args&&... args) : map_(sizeof(T)) {
        ptr_ = ::new (map_.data()) T(std::forward<Args>(args)...);
    }
    ~shared_object() {
        if (ptr_ != nullptr) ptr_->~T();
    }
    shared_object(const shared_object&) = delete;
    shared_object& operator=(const shared_object&) = delete;

    [[nodiscard]] T& operator*() const noexcept { return *ptr_; }
    [[nodiscard]] T* operator->() const noexcept { return ptr_; }
    [[nodiscard]] T* get() const noexcept { return ptr_; }
    // The descriptor another process maps the object through (memfd_mapping only).
    [[nodiscard]] int fd() const noexcept requires std::is_same_v<Mapping, memfd_mapping> { return map_.fd(); }

private:
    Mapping map_;
    T* ptr_ = nullptr;
};

// T in a memfd's shared mapping: unlike shared_object<T>, a process that did not fork from this one (an exec'd
// worker, a fork server's child) maps it through fd().
template <class T>
using shared_file_object = shared_object<T, memfd_mapping>;

}  // namespace parbench::detail
