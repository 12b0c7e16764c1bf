// Allocation policy.
//
// An allocation policy owns one std::pmr::memory_resource for what grows with the users of
// the server: the Lua VM (through lua_alloc below) and connection objects. (A connection's
// parse and send buffers still come from the heap; moving them is a later step.) It is fixed
// for the life of the binary.
//
//   static std::pmr::memory_resource& resource() noexcept;   // the one resource
//   static constexpr const char* name;                        // for --version and summary()
//
// Running out of memory is an ordinary, recoverable error: the resource throws std::bad_alloc,
// and lua_alloc turns that into a NULL return, which Lua reports as "not enough memory".
#pragma once
#include <remora/config.hpp>

#include <concepts>
#include <cstddef>
#include <memory_resource>
#include <mutex>
#include <new>

namespace remora {

template<class T>
concept alloc_policy = requires {
  { T::resource() } noexcept -> std::same_as<std::pmr::memory_resource&>;
  { T::name } -> std::convertible_to<const char*>;
};

// A memory_resource over one fixed buffer: first fit over an address-ordered free list, with
// neighbours merged on free. Never touches the heap after construction. Not thread-safe by
// itself; arena_resource_mt adds a mutex.
class arena_resource : public std::pmr::memory_resource {
 public:
  arena_resource(void* buffer, std::size_t size) noexcept;
  arena_resource(const arena_resource&) = delete;
  arena_resource& operator=(const arena_resource&) = delete;

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t in_use() const noexcept { return in_use_; }
  std::size_t peak() const noexcept { return peak_; }

 protected:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

 private:
  struct block {          // a free block; also the header in front of every allocation
    std::size_t size;     // bytes in this block, header included
    block* next;          // next free block by address (free blocks only)
  };
  static constexpr std::size_t granule = alignof(std::max_align_t);
  static constexpr std::size_t header = granule;  // room for the size word, keeps alignment
  block* free_ = nullptr;
  std::size_t capacity_ = 0, in_use_ = 0, peak_ = 0;
};

class arena_resource_mt final : public arena_resource {
 public:
  using arena_resource::arena_resource;

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    std::lock_guard lock(mutex_);
    return arena_resource::do_allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    std::lock_guard lock(mutex_);
    arena_resource::do_deallocate(p, bytes, alignment);
  }
  std::mutex mutex_;
};

// lua_Alloc over any memory_resource (ud is the resource). Lua passes the old size, which is
// what pmr's deallocate wants.
void* lua_alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept;

namespace alloc {

// The null model: the system heap.
struct system {
  static constexpr const char* name = "system";
  static std::pmr::memory_resource& resource() noexcept { return *std::pmr::new_delete_resource(); }
};

// One fixed arena of Size bytes, carved once at start-up.
template<std::size_t Size>
struct arena {
  static constexpr const char* name = "arena";
  static constexpr std::size_t size = Size;
  static std::pmr::memory_resource& resource() noexcept {
    alignas(std::max_align_t) static unsigned char storage[Size];
    static arena_resource_mt r(storage, Size);
    return r;
  }
};

}  // namespace alloc
}  // namespace remora

#if REMORA_HEADER_ONLY
#  include <remora/policy/impl/alloc.ipp>
#endif
