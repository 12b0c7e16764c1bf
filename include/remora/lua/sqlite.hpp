// luasql.sqlite: Remora's own binding of SQLite (Debian's libsqlite3) with the module name
// and the surface Mako's Lua code uses (LuaSQL's API plus BAS's additions).
//
//   luasql = require"luasql.sqlite"        (also a global, as in Mako)
//   luasql.sqlite() -> env                  luasql.quotestr(s) -> 's' with ' doubled
//   env:connect(path [, "READONLY"|"NOCREATE"]) -> conn | nil, message
//   env:version() -> SQLite's version   env:memory() -> bytes in use, high-water mark
//   env:close() -> true (false when already closed)   env.quotestr
//   conn:execute(sql) -> cursor (a statement with result columns) | rows changed
//   conn:mexec(sql) -> rows changed by every statement of `sql` | nil, message
//   conn:prepare(sql) -> statement   conn:tables() -> {name, ...}
//   conn:setautocommit(false | true | "DEFERRED" | "IMMEDIATE" | "EXCLUSIVE") -> true
//     false or a mode: a transaction is open from now on (BEGIN [mode]); commit and rollback
//     end it and begin the next. true: back to autocommit (an open transaction is rolled
//     back, as LuaSQL does).
//   conn:commit([mode]) / conn:rollback() -> true | nil, message ("BUSY" when the database
//     is locked: try again)
//   conn:getlastautoid(), conn:lastid() -> the last inserted rowid
//   conn:setbusytimeout(ms) -> true
//   conn:openblob(table, column, rowid [, writable]) -> blob | nil, message
//   conn:zeroblob(n) -> a value that binds as n zero bytes
//   conn:close() -> true (false when already closed)
//   cursor:fetch([table [, "n"|"a"|"an"]]) -> the row's values | the table | nil at the end
//   cursor:getcolnames(), cursor:getcoltypes() -> {...}   cursor:close()
//   statement: the cursor methods, and bind(v1, v2, ...) or bind{v1, ..., name = v},
//     unbind(), execute() -> the statement (rows to fetch) | rows changed
//   blob:read([n [, offset]]) -> string   blob:write(s [, offset]) -> true   blob:close()
//
// Database errors answer nil, message; misuse (a closed object, a wrong argument) raises a
// Lua error. New connections use WAL and a 5 s busy timeout, and SQLite's serialized mode,
// so they may be used from several threads (under the VM lock they are anyway). Without
// the `sqlite` option (the minimal edition) nothing is installed.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

// package.preload["luasql.sqlite"] (and "luasql.sqlite3") and the global `luasql`; a no-op
// in a build without SQLite.
void open_sqlite(lua_State* L);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/sqlite.ipp>
#endif
