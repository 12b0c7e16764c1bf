// policy/alloc.hpp: the fixed arena, lua_alloc over it, the allocation policies.
#include <doctest.h>
#include <remora/policy/alloc.hpp>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {
struct buffer {
  static constexpr std::size_t size = 1 << 20;
  std::unique_ptr<std::max_align_t[]> mem{new std::max_align_t[size / sizeof(std::max_align_t)]};
  void* data() { return mem.get(); }
};
constexpr std::size_t max_align = alignof(std::max_align_t);
bool aligned(void* p, std::size_t a = max_align) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

struct live {
  void* p;
  std::size_t n;
  unsigned char tag;
};
}  // namespace

TEST_CASE("arena_resource: many sizes, patterns intact, results aligned") {
  buffer b;
  remora::arena_resource a(b.data(), buffer::size);
  CHECK(a.capacity() > 0);
  CHECK(a.capacity() <= buffer::size);
  CHECK(a.in_use() == 0);

  std::mt19937 rng(42);
  std::vector<live> blocks;
  for (int round = 0; round < 4000; ++round) {
    bool do_free = !blocks.empty() && (rng() % 3 == 0);
    if (do_free) {
      std::size_t i = rng() % blocks.size();
      auto blk = blocks[i];
      auto* c = static_cast<unsigned char*>(blk.p);
      for (std::size_t k = 0; k < blk.n; ++k) REQUIRE(c[k] == static_cast<unsigned char>(blk.tag + k));
      a.deallocate(blk.p, blk.n, max_align);
      blocks[i] = blocks.back();
      blocks.pop_back();
    } else {
      std::size_t n = std::size_t(rng() % 700);
      if (rng() % 50 == 0) n = 4096 + rng() % 8192;
      void* p = nullptr;
      try {
        p = a.allocate(n, rng() % 2 ? max_align : 8);
      } catch (const std::bad_alloc&) {
        continue;
      }
      REQUIRE(aligned(p));
      auto tag = static_cast<unsigned char>(rng());
      auto* c = static_cast<unsigned char*>(p);
      for (std::size_t k = 0; k < n; ++k) c[k] = static_cast<unsigned char>(tag + k);
      blocks.push_back({p, n, tag});
    }
  }
  CHECK(a.in_use() > 0);
  for (auto& blk : blocks) {
    auto* c = static_cast<unsigned char*>(blk.p);
    for (std::size_t k = 0; k < blk.n; ++k) REQUIRE(c[k] == static_cast<unsigned char>(blk.tag + k));
    a.deallocate(blk.p, blk.n, max_align);
  }
  CHECK(a.in_use() == 0);
  CHECK(a.peak() > 0);
}

TEST_CASE("arena_resource: freed neighbours coalesce") {
  buffer b;
  remora::arena_resource a(b.data(), buffer::size);
  const std::size_t big = a.capacity() - 64;
  // Fragment the arena completely, then free in an interleaved order.
  std::vector<void*> ps;
  for (;;) {
    try {
      ps.push_back(a.allocate(100, max_align));
    } catch (const std::bad_alloc&) {
      break;
    }
  }
  CHECK(ps.size() > 1000);
  CHECK_THROWS_AS(static_cast<void>(a.allocate(big, max_align)), std::bad_alloc);
  for (std::size_t i = 0; i < ps.size(); i += 2) a.deallocate(ps[i], 100, max_align);
  CHECK_THROWS_AS(static_cast<void>(a.allocate(1000, max_align)), std::bad_alloc);  // only 128-byte holes
  for (std::size_t i = ps.size() - 1 - (ps.size() % 2 == 0 ? 0 : 1); i < ps.size(); i -= 2)
    a.deallocate(ps[i], 100, max_align);
  CHECK(a.in_use() == 0);
  void* p = nullptr;
  CHECK_NOTHROW(p = a.allocate(big, max_align));
  CHECK(p != nullptr);
  std::memset(p, 0xab, big);
  a.deallocate(p, big, max_align);

  // The same with frees in reverse and forward order.
  ps.clear();
  for (int i = 0; i < 50; ++i) ps.push_back(a.allocate(std::size_t(1000 + i), max_align));
  for (std::size_t i = ps.size(); i-- > 0;) a.deallocate(ps[i], 0, max_align);
  CHECK_NOTHROW(a.deallocate(a.allocate(big, max_align), big, max_align));
  ps.clear();
  for (int i = 0; i < 50; ++i) ps.push_back(a.allocate(std::size_t(1000 + i), max_align));
  for (auto* q : ps) a.deallocate(q, 0, max_align);
  CHECK_NOTHROW(a.deallocate(a.allocate(big, max_align), big, max_align));
  CHECK(a.in_use() == 0);
}

TEST_CASE("arena_resource: exhaustion throws bad_alloc") {
  buffer b;
  remora::arena_resource a(b.data(), buffer::size);
  CHECK_THROWS_AS(static_cast<void>(a.allocate(buffer::size, max_align)), std::bad_alloc);
  CHECK_THROWS_AS(static_cast<void>(a.allocate(a.capacity(), max_align)), std::bad_alloc);  // no room for the header
  volatile std::size_t huge = std::size_t(-1);  // hidden from the compiler's size checks
  CHECK_THROWS_AS(static_cast<void>(a.allocate(huge, max_align)), std::bad_alloc);
  CHECK_THROWS_AS(static_cast<void>(a.allocate(huge - 8, max_align)), std::bad_alloc);
  CHECK(a.in_use() == 0);
  std::vector<void*> ps;
  std::size_t got = 0;
  for (;;) {
    try {
      ps.push_back(a.allocate(4000, max_align));
      got += 4000;
    } catch (const std::bad_alloc&) {
      break;
    }
  }
  CHECK(got > buffer::size / 2);
  CHECK(a.in_use() <= a.capacity());
  for (int i = 0; i < 10; ++i) CHECK_THROWS_AS(static_cast<void>(a.allocate(4000, max_align)), std::bad_alloc);
  for (auto* p : ps) a.deallocate(p, 4000, max_align);
  CHECK(a.in_use() == 0);

  // Too small a buffer: every allocation fails, none crashes.
  alignas(std::max_align_t) unsigned char tiny[24];
  remora::arena_resource t(tiny, sizeof tiny);
  CHECK(t.capacity() == 0);
  CHECK_THROWS_AS(static_cast<void>(t.allocate(1, 1)), std::bad_alloc);
  CHECK_THROWS_AS(static_cast<void>(t.allocate(0, 1)), std::bad_alloc);

  // A misaligned buffer is trimmed, and results are still aligned.
  buffer m;
  remora::arena_resource odd(static_cast<char*>(m.data()) + 3, buffer::size - 3);
  CHECK(odd.capacity() <= buffer::size - 3);
  void* p = odd.allocate(10, max_align);
  CHECK(aligned(p));
  CHECK(static_cast<char*>(p) >= static_cast<char*>(m.data()) + 3);
  odd.deallocate(p, 10, max_align);
}

TEST_CASE("arena_resource: in_use and peak") {
  buffer b;
  remora::arena_resource a(b.data(), buffer::size);
  void* p1 = a.allocate(100, max_align);
  auto u1 = a.in_use();
  CHECK(u1 >= 100);
  CHECK(u1 < 100 + 4 * max_align);
  void* p2 = a.allocate(1000, max_align);
  auto u2 = a.in_use();
  CHECK(u2 >= u1 + 1000);
  CHECK(a.peak() == u2);
  a.deallocate(p1, 100, max_align);
  CHECK(a.in_use() == u2 - u1);
  CHECK(a.peak() == u2);
  a.deallocate(p2, 1000, max_align);
  CHECK(a.in_use() == 0);
  CHECK(a.peak() == u2);
  void* p0 = a.allocate(0, max_align);  // a zero-byte request still gets a distinct block
  void* p00 = a.allocate(0, max_align);
  CHECK(p0 != p00);
  CHECK(a.in_use() > 0);
  a.deallocate(p0, 0, max_align);
  a.deallocate(p00, 0, max_align);
  CHECK(a.in_use() == 0);
  CHECK(a.is_equal(a));
  remora::arena_resource other(b.data(), 0);
  CHECK_FALSE(a.is_equal(other));
}

TEST_CASE("arena_resource: alignment") {
  buffer b;
  remora::arena_resource a(b.data(), buffer::size);
  for (std::size_t al : {std::size_t(1), std::size_t(2), std::size_t(4), std::size_t(8), max_align}) {
    void* p = a.allocate(3, al);
    CHECK(aligned(p, al));
    CHECK(aligned(p));
    a.deallocate(p, 3, al);
  }
  CHECK_THROWS_AS(static_cast<void>(a.allocate(16, 32)), std::bad_alloc);
  CHECK_THROWS_AS(static_cast<void>(a.allocate(16, 64)), std::bad_alloc);
  CHECK_THROWS_AS(static_cast<void>(a.allocate(16, 4096)), std::bad_alloc);
  CHECK(a.in_use() == 0);
}

TEST_CASE("arena_resource_mt under pmr containers") {
  buffer b;
  remora::arena_resource_mt a(b.data(), buffer::size);
  {
    std::pmr::vector<std::pmr::string> v(&a);
    for (int i = 0; i < 1000; ++i) v.emplace_back(std::string(50, char('a' + i % 26)));
    CHECK(a.in_use() > 1000 * 50);
    CHECK(std::string_view(v[999]) == std::string(50, char('a' + 999 % 26)));
  }
  CHECK(a.in_use() == 0);
}

namespace {
const char* grow = R"(
  local t = {}
  local i = 0
  while true do
    i = i + 1
    t[i] = string.rep("x", 1000) .. i
  end
)";
}

TEST_CASE("lua_alloc over an arena: out of memory is a Lua error, and the state survives") {
  static constexpr std::size_t size = 4 << 20;
  std::unique_ptr<std::max_align_t[]> mem(new std::max_align_t[size / sizeof(std::max_align_t)]);
  remora::arena_resource arena(mem.get(), size);
  lua_State* L = lua_newstate(remora::lua_alloc, static_cast<std::pmr::memory_resource*>(&arena));
  REQUIRE(L != nullptr);
  luaL_openlibs(L);
  auto base = arena.in_use();
  CHECK(base > 0);  // the state itself lives in the arena

  REQUIRE(luaL_loadstring(L, grow) == LUA_OK);
  int rc = lua_pcall(L, 0, 0, 0);
  CHECK(rc == LUA_ERRMEM);
  REQUIRE(lua_type(L, -1) == LUA_TSTRING);
  CHECK(std::string(lua_tostring(L, -1)) == "not enough memory");
  lua_pop(L, 1);
  CHECK(arena.peak() > size / 2);

  lua_gc(L, LUA_GCCOLLECT, 0);
  CHECK(arena.in_use() < size / 4);

  // Still usable.
  REQUIRE(luaL_loadstring(L, "local s = 0 for i = 1, 1000 do s = s + #tostring(i) end return s") == LUA_OK);
  REQUIRE(lua_pcall(L, 0, 1, 0) == LUA_OK);
  CHECK(lua_tointeger(L, -1) == 2893);
  lua_pop(L, 1);

  // And runs out again the same way.
  REQUIRE(luaL_loadstring(L, grow) == LUA_OK);
  CHECK(lua_pcall(L, 0, 0, 0) == LUA_ERRMEM);
  lua_pop(L, 1);
  lua_close(L);
  CHECK(arena.in_use() == 0);  // everything the state took went back
}

TEST_CASE("lua_alloc: realloc keeps contents, free returns null") {
  buffer b;
  remora::arena_resource a(b.data(), buffer::size);
  void* ud = static_cast<std::pmr::memory_resource*>(&a);
  auto* p = static_cast<char*>(remora::lua_alloc(ud, nullptr, LUA_TSTRING, 10));
  REQUIRE(p);
  std::memcpy(p, "0123456789", 10);
  auto* q = static_cast<char*>(remora::lua_alloc(ud, p, 10, 5000));
  REQUIRE(q);
  CHECK(std::memcmp(q, "0123456789", 10) == 0);
  auto* r = static_cast<char*>(remora::lua_alloc(ud, q, 5000, 4));
  REQUIRE(r);
  CHECK(std::memcmp(r, "0123", 4) == 0);
  // A request the arena cannot meet: NULL, and the old block stays valid.
  CHECK(remora::lua_alloc(ud, r, 4, buffer::size * 2) == nullptr);
  CHECK(std::memcmp(r, "0123", 4) == 0);
  CHECK(remora::lua_alloc(ud, r, 4, 0) == nullptr);
  CHECK(a.in_use() == 0);
  CHECK(remora::lua_alloc(ud, nullptr, 0, 0) == nullptr);
}

namespace {
struct no_name {
  static std::pmr::memory_resource& resource() noexcept { return *std::pmr::new_delete_resource(); }
};
}  // namespace

TEST_CASE("allocation policies") {
  static_assert(remora::alloc_policy<remora::alloc::system>);
  static_assert(remora::alloc_policy<remora::alloc::arena<1 << 20>>);
  static_assert(!remora::alloc_policy<no_name>);
  CHECK(std::string(remora::alloc::system::name) == "system");
  CHECK(&remora::alloc::system::resource() == std::pmr::new_delete_resource());

  using arena = remora::alloc::arena<1 << 20>;
  CHECK(std::string(arena::name) == "arena");
  CHECK(arena::size == (1u << 20));
  auto& r = arena::resource();
  CHECK(&r == &arena::resource());  // one resource for the life of the binary
  auto* mt = dynamic_cast<remora::arena_resource_mt*>(&r);
  REQUIRE(mt != nullptr);
  CHECK(mt->capacity() <= (1u << 20));
  CHECK(mt->capacity() >= (1u << 20) - 64);
  auto before = mt->in_use();
  void* p = r.allocate(1000);
  CHECK(mt->in_use() > before);
  r.deallocate(p, 1000);
  CHECK(mt->in_use() == before);
  CHECK_THROWS_AS(static_cast<void>(r.allocate(2 << 20)), std::bad_alloc);
}
