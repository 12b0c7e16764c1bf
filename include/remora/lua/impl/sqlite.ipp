#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/sqlite.hpp>

#include <lauxlib.h>
#include <lua.h>

#if REMORA_SQLITE
#  include <sqlite3.h>

#  include <algorithm>
#  include <memory>
#  include <string>
#  include <string_view>

namespace remora::lua {
namespace detail::sql {

inline constexpr const char* env_t = "luasql.sqlite.env";
inline constexpr const char* conn_t = "luasql.sqlite.conn";
inline constexpr const char* cur_t = "luasql.sqlite.cursor";
inline constexpr const char* blob_t = "luasql.sqlite.blob";
inline constexpr const char* zero_t = "luasql.sqlite.zeroblob";
inline constexpr int busy_timeout_ms = 5000;

// The connection's handle, shared with its cursors and blobs: conn:close() closes it
// (sqlite3_close_v2: statements still open keep it alive as a zombie until finalized) and
// sets db to null, which every later use checks.
struct db_state {
  sqlite3* db = nullptr;
  ~db_state() {
    if (db) sqlite3_close_v2(db);
  }
};

struct env_obj {
  bool closed = false;
};

struct conn_obj {
  std::shared_ptr<db_state> s;
  bool autocommit = true;
  std::string begin = "BEGIN";
};

// A cursor from conn:execute, or a prepared statement (the same class). The statement is
// always one step ahead of what has been fetched: once the last row has been read it is
// reset, so a cursor nobody reads to its end (conn:execute"SELECT count(*) ...":fetch())
// holds no read transaction or lock.
struct cur_obj {
  enum : int { fresh, row, done, failed };
  std::shared_ptr<db_state> s;
  sqlite3_stmt* st = nullptr;
  bool prepared = false;
  int state = fresh;
  std::string err;  // failed: what the step ahead reported
  ~cur_obj() {
    if (st) sqlite3_finalize(st);
  }
};

struct blob_obj {
  std::shared_ptr<db_state> s;
  sqlite3_blob* b = nullptr;
  ~blob_obj() {
    if (b) sqlite3_blob_close(b);
  }
};

struct zero_obj {
  sqlite3_uint64 n = 0;
};

struct stmt_deleter {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_deleter>;

inline int db_fail(lua_State* L, sqlite3* db) {
  return fail(L, db ? sqlite3_errmsg(db) : "connection is closed");
}

inline sqlite3* check_conn(lua_State* L, conn_obj*& c) {
  c = check_object<conn_obj>(L, 1, conn_t);
  luaL_argcheck(L, c->s && c->s->db, 1, "connection is closed");
  return c->s->db;
}

inline cur_obj* check_cur(lua_State* L) {
  auto* c = check_object<cur_obj>(L, 1, cur_t);
  luaL_argcheck(L, c->st, 1, "cursor is closed");
  luaL_argcheck(L, c->s && c->s->db, 1, "connection is closed");
  return c;
}

// Runs SQL that returns nothing the caller needs (BEGIN, COMMIT, a pragma). No Lua runs in
// between, so nothing is thrown through SQLite.
inline int exec_plain(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
}

// nil, "BUSY" for a locked database (so callers can try again), nil, message otherwise.
inline int tx_fail(lua_State* L, sqlite3* db, int rc) {
  if ((rc & 0xff) == SQLITE_BUSY) return fail(L, "BUSY");
  return db_fail(L, db);
}

// ---- environment -------------------------------------------------------------------------

inline int quotestr(lua_State* L) {
  std::size_t n;
  const char* s = luaL_checklstring(L, lua_type(L, 1) == LUA_TUSERDATA ? 2 : 1, &n);
  std::string out = "'";
  for (std::size_t i = 0; i < n; ++i) {
    if (s[i] == '\'') out.push_back('\'');
    out.push_back(s[i]);
  }
  out.push_back('\'');
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

inline int new_env(lua_State* L) {
  push_object<env_obj>(L, env_t);
  return 1;
}

inline int env_close(lua_State* L) {
  auto* e = check_object<env_obj>(L, 1, env_t);
  lua_pushboolean(L, !e->closed);
  e->closed = true;
  return 1;
}

inline int env_version(lua_State* L) {
  check_object<env_obj>(L, 1, env_t);
  lua_pushstring(L, sqlite3_libversion());
  return 1;
}

inline int env_memory(lua_State* L) {
  check_object<env_obj>(L, 1, env_t);
  lua_pushinteger(L, lua_Integer(sqlite3_memory_used()));
  lua_pushinteger(L, lua_Integer(sqlite3_memory_highwater(0)));
  return 2;
}

inline int env_connect(lua_State* L) {
  auto* e = check_object<env_obj>(L, 1, env_t);
  luaL_argcheck(L, !e->closed, 1, "environment is closed");
  const char* path = luaL_checkstring(L, 2);
  std::string_view opt = luaL_optstring(L, 3, "");
  int flags = SQLITE_OPEN_FULLMUTEX;
  bool readonly = opt == "READONLY";
  if (readonly)
    flags |= SQLITE_OPEN_READONLY;
  else if (opt == "NOCREATE")
    flags |= SQLITE_OPEN_READWRITE;
  else if (opt.empty())
    flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  else
    return luaL_argerror(L, 3, "READONLY or NOCREATE expected");
  auto s = std::make_shared<db_state>();
  int rc = sqlite3_open_v2(path, &s->db, flags, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(s->db, busy_timeout_ms);
    // WAL: readers do not block the writer; a commit is one append to the log. Either
    // statement also reads the header, so a file that is not a database fails here.
    rc = exec_plain(s->db, readonly ? "PRAGMA schema_version" : "PRAGMA journal_mode=WAL");
  }
  if (rc != SQLITE_OK) {
    std::string msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    return fail(L, msg.c_str());
  }
  auto* c = push_object<conn_obj>(L, conn_t);
  c->s = std::move(s);
  return 1;
}

// ---- connection --------------------------------------------------------------------------

inline int conn_close(lua_State* L) {
  auto* c = check_object<conn_obj>(L, 1, conn_t);
  if (!c->s || !c->s->db) {
    lua_pushboolean(L, 0);
    return 1;
  }
  sqlite3_close_v2(c->s->db);  // an open transaction is rolled back
  c->s->db = nullptr;
  c->s.reset();
  lua_pushboolean(L, 1);
  return 1;
}

inline void push_column(lua_State* L, sqlite3_stmt* st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: lua_pushinteger(L, lua_Integer(sqlite3_column_int64(st, i))); break;
    case SQLITE_FLOAT: lua_pushnumber(L, sqlite3_column_double(st, i)); break;
    case SQLITE_TEXT:
      lua_pushlstring(L, reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                      std::size_t(sqlite3_column_bytes(st, i)));
      break;
    case SQLITE_BLOB: {
      const void* p = sqlite3_column_blob(st, i);
      lua_pushlstring(L, p ? static_cast<const char*>(p) : "", std::size_t(sqlite3_column_bytes(st, i)));
      break;
    }
    default: lua_pushnil(L);
  }
}

// Steps a statement that has just been (re)started and answers as execute does: the cursor
// at `self` (or a new one) when it has result columns, else the number of rows changed.
inline int run_first_step(lua_State* L, sqlite3* db, stmt_ptr& owned, cur_obj* self, int self_idx) {
  sqlite3_stmt* st = self ? self->st : owned.get();
  sqlite3_int64 before = sqlite3_total_changes64(db);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    std::string msg = sqlite3_errmsg(db);
    sqlite3_reset(st);
    if (self) self->state = cur_obj::fresh;
    return fail(L, msg.c_str());
  }
  if (sqlite3_column_count(st) == 0) {
    sqlite3_int64 changed = sqlite3_total_changes64(db) == before ? 0 : sqlite3_changes64(db);
    sqlite3_reset(st);
    if (self) self->state = cur_obj::fresh;
    lua_pushinteger(L, lua_Integer(changed));
    return 1;
  }
  int state = rc == SQLITE_ROW ? cur_obj::row : cur_obj::done;
  if (state == cur_obj::done) sqlite3_reset(st);
  if (self) {
    self->state = state;
    lua_pushvalue(L, self_idx);
    return 1;
  }
  auto* c = push_object<cur_obj>(L, cur_t);
  c->s = check_object<conn_obj>(L, 1, conn_t)->s;
  c->st = owned.release();
  c->state = state;
  return 1;
}

inline int conn_execute(lua_State* L) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  std::size_t n;
  const char* sql = luaL_checklstring(L, 2, &n);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, int(std::min<std::size_t>(n, 0x7fffffff)), &raw, nullptr) != SQLITE_OK)
    return db_fail(L, db);
  stmt_ptr st(raw);
  if (!st) {  // only white space or a comment
    lua_pushinteger(L, 0);
    return 1;
  }
  return run_first_step(L, db, st, nullptr, 0);
}

// Every statement of the text, one after the other; stops at the first error.
inline int conn_mexec(lua_State* L) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  std::size_t n;
  const char* sql = luaL_checklstring(L, 2, &n);
  const char* end = sql + n;
  sqlite3_int64 before = sqlite3_total_changes64(db);
  while (sql < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db, sql, int(std::min<std::ptrdiff_t>(end - sql, 0x7fffffff)), &raw, &tail) != SQLITE_OK)
      return db_fail(L, db);
    stmt_ptr st(raw);
    if (tail == sql || !tail) break;
    sql = tail;
    if (!st) continue;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return db_fail(L, db);
  }
  lua_pushinteger(L, lua_Integer(sqlite3_total_changes64(db) - before));
  return 1;
}

inline int conn_prepare(lua_State* L) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  std::size_t n;
  const char* sql = luaL_checklstring(L, 2, &n);
  auto* cur = push_object<cur_obj>(L, cur_t);
  cur->s = c->s;
  cur->prepared = true;
  if (sqlite3_prepare_v2(db, sql, int(std::min<std::size_t>(n, 0x7fffffff)), &cur->st, nullptr) != SQLITE_OK)
    return db_fail(L, db);
  if (!cur->st) return fail(L, "empty statement");
  return 1;
}

inline int conn_tables(lua_State* L) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name", -1, &raw,
                         nullptr) != SQLITE_OK)
    return db_fail(L, db);
  stmt_ptr st(raw);
  lua_newtable(L);
  int rc;
  for (lua_Integer i = 1; (rc = sqlite3_step(st.get())) == SQLITE_ROW; ++i) {
    push_column(L, st.get(), 0);
    lua_rawseti(L, -2, i);
  }
  if (rc != SQLITE_DONE) return db_fail(L, db);
  return 1;
}

// The BEGIN statement for a mode argument at `idx` (absent: the connection's current one).
inline std::string begin_for(lua_State* L, int idx, const std::string& current) {
  if (lua_type(L, idx) != LUA_TSTRING) return current;
  std::string_view m = lua_tostring(L, idx);
  if (m == "DEFERRED" || m == "IMMEDIATE" || m == "EXCLUSIVE") return "BEGIN " + std::string(m);
  luaL_argerror(L, idx, "DEFERRED, IMMEDIATE or EXCLUSIVE expected");
  return current;
}

inline int conn_setautocommit(lua_State* L) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  if (lua_type(L, 2) != LUA_TSTRING && lua_toboolean(L, 2)) {
    if (!sqlite3_get_autocommit(db)) exec_plain(db, "ROLLBACK");
    c->autocommit = true;
  } else {
    c->begin = begin_for(L, 2, "BEGIN");
    if (sqlite3_get_autocommit(db)) {
      int rc = exec_plain(db, c->begin.c_str());
      if (rc != SQLITE_OK) return tx_fail(L, db, rc);
    }
    c->autocommit = false;
  }
  lua_pushboolean(L, 1);
  return 1;
}

// COMMIT or ROLLBACK of the open transaction (if any); without autocommit the next one
// begins at once.
inline int end_transaction(lua_State* L, const char* how) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  if (!sqlite3_get_autocommit(db)) {
    int rc = exec_plain(db, how);
    if (rc != SQLITE_OK) return tx_fail(L, db, rc);
  }
  if (!c->autocommit) {
    c->begin = begin_for(L, 2, c->begin);
    int rc = exec_plain(db, c->begin.c_str());
    if (rc != SQLITE_OK) return tx_fail(L, db, rc);
  }
  lua_pushboolean(L, 1);
  return 1;
}

inline int conn_commit(lua_State* L) { return end_transaction(L, "COMMIT"); }
inline int conn_rollback(lua_State* L) { return end_transaction(L, "ROLLBACK"); }

inline int conn_lastid(lua_State* L) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  lua_pushinteger(L, lua_Integer(sqlite3_last_insert_rowid(db)));
  return 1;
}

inline int conn_setbusytimeout(lua_State* L) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  sqlite3_busy_timeout(db, int(std::clamp<lua_Integer>(luaL_checkinteger(L, 2), 0, 0x7fffffff)));
  lua_pushboolean(L, 1);
  return 1;
}

inline int conn_openblob(lua_State* L) {
  conn_obj* c;
  sqlite3* db = check_conn(L, c);
  const char* table = luaL_checkstring(L, 2);
  const char* column = luaL_checkstring(L, 3);
  lua_Integer rowid = luaL_checkinteger(L, 4);
  bool writable = lua_toboolean(L, 5);
  auto* b = push_object<blob_obj>(L, blob_t);
  b->s = c->s;
  if (sqlite3_blob_open(db, "main", table, column, rowid, writable ? 1 : 0, &b->b) != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db);
    if (b->b) sqlite3_blob_close(b->b);
    b->b = nullptr;
    return fail(L, msg.c_str());
  }
  return 1;
}

inline int conn_zeroblob(lua_State* L) {
  conn_obj* c;
  check_conn(L, c);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0, 2, "size must not be negative");
  push_object<zero_obj>(L, zero_t)->n = sqlite3_uint64(n);
  return 1;
}

// ---- cursor and prepared statement -------------------------------------------------------

inline int cur_close(lua_State* L) {
  auto* c = check_object<cur_obj>(L, 1, cur_t);
  bool was_open = c->st != nullptr;
  if (c->st) sqlite3_finalize(c->st);
  c->st = nullptr;
  c->s.reset();
  lua_pushboolean(L, was_open);
  return 1;
}

// Moves the statement to its next row: state row, or done (reset), or failed (reset, with
// the message kept for the next fetch).
inline void step_ahead(cur_obj* c) {
  int rc = sqlite3_step(c->st);
  if (rc == SQLITE_ROW) {
    c->state = cur_obj::row;
    return;
  }
  if (rc != SQLITE_DONE) c->err = sqlite3_errmsg(c->s->db);
  c->state = rc == SQLITE_DONE ? cur_obj::done : cur_obj::failed;
  sqlite3_reset(c->st);
}

inline int cur_fetch(lua_State* L) {
  auto* c = check_object<cur_obj>(L, 1, cur_t);
  if (!c->st) {  // a cursor closes itself at its end; fetching again answers nil
    lua_pushnil(L);
    return 1;
  }
  luaL_argcheck(L, c->s && c->s->db, 1, "connection is closed");
  if (c->state == cur_obj::fresh) step_ahead(c);  // a statement fetched without execute()
  if (c->state == cur_obj::failed) {
    c->state = cur_obj::done;
    return fail(L, c->err.c_str());
  }
  if (c->state == cur_obj::done) {
    if (!c->prepared) {  // a statement keeps its compiled form for the next execute()
      sqlite3_finalize(c->st);
      c->st = nullptr;
      c->s.reset();
    }
    lua_pushnil(L);
    return 1;
  }
  int n = sqlite3_column_count(c->st);
  int results;
  if (lua_type(L, 2) == LUA_TTABLE) {
    std::string_view mode = luaL_optstring(L, 3, "n");
    bool num = mode.find('n') != std::string_view::npos, alpha = mode.find('a') != std::string_view::npos;
    lua_settop(L, 2);
    for (int i = 0; i < n; ++i) {
      if (num) {
        push_column(L, c->st, i);
        lua_rawseti(L, 2, i + 1);
      }
      if (alpha) {
        lua_pushstring(L, sqlite3_column_name(c->st, i));
        push_column(L, c->st, i);
        lua_rawset(L, 2);
      }
    }
    results = 1;
  } else {
    luaL_checkstack(L, n, "too many columns");
    for (int i = 0; i < n; ++i) push_column(L, c->st, i);
    results = n;
  }
  step_ahead(c);  // the values are on the Lua stack: the statement may move on
  return results;
}

inline int cur_colinfo(lua_State* L, bool types) {
  auto* c = check_cur(L);
  int n = sqlite3_column_count(c->st);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; ++i) {
    const char* s = types ? sqlite3_column_decltype(c->st, i) : sqlite3_column_name(c->st, i);
    lua_pushstring(L, s ? s : "");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

inline int cur_getcolnames(lua_State* L) { return cur_colinfo(L, false); }
inline int cur_getcoltypes(lua_State* L) { return cur_colinfo(L, true); }

// Binds the value at `idx` to parameter `n`; false on an SQLite error.
inline bool bind_one(lua_State* L, sqlite3_stmt* st, int n, int idx) {
  int rc;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: rc = sqlite3_bind_null(st, n); break;
    case LUA_TBOOLEAN: rc = sqlite3_bind_int(st, n, lua_toboolean(L, idx)); break;
    case LUA_TNUMBER:
      rc = lua_isinteger(L, idx) ? sqlite3_bind_int64(st, n, lua_tointeger(L, idx))
                                 : sqlite3_bind_double(st, n, lua_tonumber(L, idx));
      break;
    case LUA_TSTRING: {
      std::size_t len;
      const char* s = lua_tolstring(L, idx, &len);
      rc = sqlite3_bind_text64(st, n, s, len, SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    }
    default:
      if (auto* z = static_cast<zero_obj*>(luaL_testudata(L, idx, zero_t))) {
        rc = sqlite3_bind_zeroblob64(st, n, z->n);
        break;
      }
      luaL_argerror(L, idx, "nil, boolean, number, string or zeroblob expected");
      return false;
  }
  return rc == SQLITE_OK;
}

// stmt:bind(v1, v2, ...) or stmt:bind{v1, v2, ..., name = v} (a name matches :name, @name
// or $name).
inline int cur_bind(lua_State* L) {
  auto* c = check_cur(L);
  sqlite3_reset(c->st);
  c->state = cur_obj::fresh;
  int top = lua_gettop(L);
  if (top == 2 && lua_type(L, 2) == LUA_TTABLE && !luaL_testudata(L, 2, zero_t)) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      int n = 0;
      if (lua_isinteger(L, -2)) {
        lua_Integer k = lua_tointeger(L, -2);
        n = k > 0 && k <= 0x7fffffff ? int(k) : 0;
      } else if (lua_type(L, -2) == LUA_TSTRING) {
        std::string name = lua_tostring(L, -2);
        for (const char* p : {"", ":", "@", "$"})
          if ((n = sqlite3_bind_parameter_index(c->st, (p + name).c_str())) > 0) break;
      }
      if (n > 0 && !bind_one(L, c->st, n, lua_gettop(L))) return db_fail(L, c->s->db);
      lua_pop(L, 1);
    }
  } else {
    for (int i = 2; i <= top; ++i)
      if (!bind_one(L, c->st, i - 1, i)) return db_fail(L, c->s->db);
  }
  lua_pushboolean(L, 1);
  return 1;
}

inline int cur_unbind(lua_State* L) {
  auto* c = check_cur(L);
  sqlite3_reset(c->st);
  c->state = cur_obj::fresh;
  sqlite3_clear_bindings(c->st);
  lua_pushboolean(L, 1);
  return 1;
}

inline int cur_execute(lua_State* L) {
  auto* c = check_cur(L);
  sqlite3_reset(c->st);
  stmt_ptr none;
  return run_first_step(L, c->s->db, none, c, 1);
}

// ---- blob --------------------------------------------------------------------------------

inline blob_obj* check_blob(lua_State* L) {
  auto* b = check_object<blob_obj>(L, 1, blob_t);
  luaL_argcheck(L, b->b, 1, "blob is closed");
  luaL_argcheck(L, b->s && b->s->db, 1, "connection is closed");
  return b;
}

inline int blob_read(lua_State* L) {
  auto* b = check_blob(L);
  lua_Integer size = sqlite3_blob_bytes(b->b);
  lua_Integer off = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, off >= 0 && off <= size, 3, "offset out of range");
  lua_Integer n = std::clamp<lua_Integer>(luaL_optinteger(L, 2, size - off), 0, size - off);
  luaL_Buffer buf;
  char* p = luaL_buffinitsize(L, &buf, std::size_t(n));
  if (n > 0 && sqlite3_blob_read(b->b, p, int(n), int(off)) != SQLITE_OK) return db_fail(L, b->s->db);
  luaL_pushresultsize(&buf, std::size_t(n));
  return 1;
}

inline int blob_write(lua_State* L) {
  auto* b = check_blob(L);
  std::size_t n;
  const char* s = luaL_checklstring(L, 2, &n);
  lua_Integer off = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, off >= 0 && off <= 0x7fffffff && n <= 0x7fffffff, 3, "offset out of range");
  if (sqlite3_blob_write(b->b, s, int(n), int(off)) != SQLITE_OK) return db_fail(L, b->s->db);
  lua_pushboolean(L, 1);
  return 1;
}

inline int blob_close(lua_State* L) {
  auto* b = check_object<blob_obj>(L, 1, blob_t);
  if (!b->b) {
    lua_pushboolean(L, 0);
    return 1;
  }
  int rc = sqlite3_blob_close(b->b);
  b->b = nullptr;
  if (rc != SQLITE_OK && b->s && b->s->db) return db_fail(L, b->s->db);
  b->s.reset();
  lua_pushboolean(L, 1);
  return 1;
}

// Creates the metatable `tname` with `methods`, a __gc for T, and __close = `close` (so
// `local x <close> = ...` works).
template<class T>
void define_closable(lua_State* L, const char* tname, const luaL_Reg* methods, lua_CFunction close) {
  define_class<T>(L, tname, methods);
  luaL_getmetatable(L, tname);
  if (close) {
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
}

inline int open_module(lua_State* L) {
  static const luaL_Reg env_methods[] = {{"close", env_close}, {"connect", env_connect},
                                         {"version", env_version}, {"memory", env_memory},
                                         {"quotestr", quotestr}, {nullptr, nullptr}};
  static const luaL_Reg conn_methods[] = {
      {"close", conn_close}, {"execute", conn_execute}, {"commit", conn_commit},
      {"rollback", conn_rollback}, {"setautocommit", conn_setautocommit}, {"getlastautoid", conn_lastid},
      {"lastid", conn_lastid}, {"setbusytimeout", conn_setbusytimeout}, {"tables", conn_tables},
      {"prepare", conn_prepare}, {"openblob", conn_openblob}, {"zeroblob", conn_zeroblob},
      {"mexec", conn_mexec}, {nullptr, nullptr}};
  static const luaL_Reg cur_methods[] = {
      {"close", cur_close}, {"fetch", cur_fetch}, {"getcolnames", cur_getcolnames},
      {"getcoltypes", cur_getcoltypes}, {"bind", cur_bind}, {"execute", cur_execute},
      {"unbind", cur_unbind}, {nullptr, nullptr}};
  static const luaL_Reg blob_methods[] = {
      {"close", blob_close}, {"read", blob_read}, {"write", blob_write}, {nullptr, nullptr}};
  static const luaL_Reg no_methods[] = {{nullptr, nullptr}};
  define_closable<env_obj>(L, env_t, env_methods, env_close);
  define_closable<conn_obj>(L, conn_t, conn_methods, conn_close);
  define_closable<cur_obj>(L, cur_t, cur_methods, cur_close);
  define_closable<blob_obj>(L, blob_t, blob_methods, blob_close);
  define_closable<zero_obj>(L, zero_t, no_methods, nullptr);
  lua_newtable(L);
  lua_pushcfunction(L, new_env);
  lua_setfield(L, -2, "sqlite");
  lua_pushcfunction(L, quotestr);
  lua_setfield(L, -2, "quotestr");
  return 1;
}

}  // namespace detail::sql

REMORA_DECL void open_sqlite(lua_State* L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const char* name : {"luasql.sqlite", "luasql.sqlite3"}) {
    lua_pushcfunction(L, detail::sql::open_module);
    lua_setfield(L, -2, name);
  }
  lua_pop(L, 1);
  // Mako has the module as the global `luasql` too; require answers the same table.
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  detail::sql::open_module(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "luasql.sqlite");
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "luasql.sqlite3");
  lua_setglobal(L, "luasql");
  lua_pop(L, 1);
}

}  // namespace remora::lua

#else

namespace remora::lua {
REMORA_DECL void open_sqlite(lua_State*) {}
}  // namespace remora::lua

#endif
