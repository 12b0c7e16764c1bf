// Running Lua Server Pages: the page cache, the request/response object, and the scheduler
// that lets a page stream, sleep or run long without holding up the server.
//
// A page is compiled once (lsp::compile) and again when its file changes; its `page` table
// survives recompilation. Each request runs the page in a coroutine of the main state,
// called as (cmdEnv, pathname, io, page, app) where cmdEnv holds request, response, print
// and _emit with __index = _G. `request` and `response` are one object, as in Mako.
//
// Scheduling: the page runs on the connection's own thread, under the VM lock, and nearly
// always finishes in one go (no thread hand-off, the response goes out with a
// Content-Length). When it must wait (its output passed `rspsz` and goes out chunked,
// response:flush(), ba.sleep) or has run longer than `slice_ms` (a watchdog thread arms a
// count hook that yields), the coroutine yields, the lock is released and the connection
// resumes it when the write is done or the time has come; meanwhile the loop serves other
// requests. Where a yield is impossible (inside a C call that is not yieldable) output is
// buffered, sleeps block, and the watchdog tries again a little later.
#pragma once
#include <remora/config.hpp>
#include <remora/lua/host.hpp>
#include <remora/vfs/resrdr.hpp>

struct lua_State;

namespace remora::lsp {

inline constexpr const char* request_tname = "remora.request";

// Turns LSP on for `dir`, mounted at `prefix` ("/" or "/name/"): its .lsp files become pages
// that run with the app environment at registry ref `app_ref` and the IO object at registry
// ref `io_ref` (both kept). Called with the VM lock held (from Lua). `h` must outlive the
// directory.
void enable(lua::host& h, vfs::resrdr& dir, std::string prefix, int app_ref, int io_ref);
// Turns it off again: .lsp files are not served.
void disable(vfs::resrdr& dir);

// Runs the Lua function at registry ref `fn_ref` for a request, as a directory function
// (ba.create.dir's setfunc): called as fn(cmdEnv, rel) like a page, with the same scheduling.
// False when it returned false having sent nothing: the directory falls through.
bool run_function(lua::host& h, int fn_ref, const http::request& req, std::string_view rel, http::response& res);

// dir:service(request, rel): hands the running request to `dir` as if it had been mounted
// there: its static files, pages and functions answer right away (in the caller's coroutine,
// so they cannot yield). Returns what the directory's service returned. Called from Lua with
// the request object at index `req`.
bool delegate(lua_State* L, int req, vfs::directory& dir, std::string_view rel);

// Installs the request/response, session and cookie classes, and ba.session/ba.sessions
// into the table at the top of the stack (the `ba` table; called by open_runtime).
void open_request_lib(lua_State* L);

// Yields the running page for `ms` milliseconds when it can (ba.sleep in a page); false when
// L is not a page's coroutine at a yieldable point (the caller then sleeps for real).
// Must be called as `return lua_yield(...)` style: see ba.sleep.
bool page_sleep(lua_State* L, unsigned ms);

// ba.socket.req2sock: the request of the live request object at `idx`, or nullptr.
const http::request* live_request(lua_State* L, int idx);
// Hands the connection of the request at `idx` to `f` once its page waits or has ended
// (http::response::takeover); false when the response has already gone out in part.
bool take_over(lua_State* L, int idx, std::function<void(std::unique_ptr<net::stream>)> f);

}  // namespace remora::lsp

#if REMORA_HEADER_ONLY
#  include <remora/lsp/impl/pages.ipp>
#endif
