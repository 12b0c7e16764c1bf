// Non-template definitions for policy/alloc.hpp.
#pragma once
#include <remora/policy/alloc.hpp>

#include <cstdint>
#include <cstring>

namespace remora {

REMORA_DECL arena_resource::arena_resource(void* buffer, std::size_t size) noexcept {
  auto addr = reinterpret_cast<std::uintptr_t>(buffer);
  auto aligned = (addr + granule - 1) & ~(std::uintptr_t(granule) - 1);
  std::size_t lost = aligned - addr;
  if (size <= lost + 2 * header) return;  // too small to hold anything: every allocation fails
  capacity_ = (size - lost) & ~(granule - 1);
  free_ = reinterpret_cast<block*>(aligned);
  free_->size = capacity_;
  free_->next = nullptr;
}

REMORA_DECL void* arena_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
  if (alignment > granule || bytes > capacity_) throw std::bad_alloc();
  std::size_t need = (bytes + header + granule - 1) & ~(granule - 1);
  if (need < header + granule) need = header + granule;
  block** link = &free_;
  for (block* b = free_; b; link = &b->next, b = b->next) {
    if (b->size < need) continue;
    if (b->size - need >= header + granule) {  // split: the tail stays free
      auto* rest = reinterpret_cast<block*>(reinterpret_cast<char*>(b) + need);
      rest->size = b->size - need;
      rest->next = b->next;
      *link = rest;
      b->size = need;
    } else {
      *link = b->next;
    }
    in_use_ += b->size;
    if (in_use_ > peak_) peak_ = in_use_;
    return reinterpret_cast<char*>(b) + header;
  }
  throw std::bad_alloc();
}

REMORA_DECL void arena_resource::do_deallocate(void* p, std::size_t, std::size_t) {
  if (!p) return;
  auto* b = reinterpret_cast<block*>(static_cast<char*>(p) - header);
  in_use_ -= b->size;
  block* prev = nullptr;
  block* next = free_;
  while (next && next < b) { prev = next; next = next->next; }
  b->next = next;
  if (next && reinterpret_cast<char*>(b) + b->size == reinterpret_cast<char*>(next)) {
    b->size += next->size;
    b->next = next->next;
  }
  if (prev) {
    if (reinterpret_cast<char*>(prev) + prev->size == reinterpret_cast<char*>(b)) {
      prev->size += b->size;
      prev->next = b->next;
    } else {
      prev->next = b;
    }
  } else {
    free_ = b;
  }
}

REMORA_DECL void* lua_alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept {
  auto* r = static_cast<std::pmr::memory_resource*>(ud);
  constexpr std::size_t align = alignof(std::max_align_t);
  if (nsize == 0) {
    if (ptr) r->deallocate(ptr, osize, align);
    return nullptr;
  }
  void* fresh;
  try {
    fresh = r->allocate(nsize, align);
  } catch (const std::bad_alloc&) {
    return nullptr;  // Lua raises "not enough memory"; the old block stays valid
  }
  if (ptr) {
    std::memcpy(fresh, ptr, osize < nsize ? osize : nsize);
    r->deallocate(ptr, osize, align);
  }
  return fresh;
}

}  // namespace remora
