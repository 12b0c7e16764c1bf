// Directory objects for Lua: ba.create.resrdr (BAS's resource reader, the base of every
// Mako app), ba.create.dir (requests answered by a Lua function), and their methods.
//
//   ba.create.resrdr([name,] [prio,] io) -> dir   name nil or "" for the root ("/")
//   ba.create.dir([name,] [prio])        -> dir   its requests go to dir:setfunc(f)
//   dir:insert()        mount at its base URI (again after unlink)
//   dir:insert(child)   mount child below this dir (this dir's URI plus the child's name)
//   dir:setfunc(f)      f(_ENV, relpath) answers like a page; returning false passes it on
//   dir:p403([url])     the page for denied access (kept for the authenticators)
//   dir:redirect2tls()  plain-HTTP requests to the dir get a 301 to https
//   rr:insertprolog(d)  d is searched before the resource reader's own files
//   dir:service(request, rel)  hands the running request to the dir (its files, pages, function)
//   dir:unlink()        unmount; true when it was mounted
//   dir:baseuri()       "/" or "/name/"
//   dir:name()          the name, nil for the root
//   dir:header{k=v}     headers added to every answer (Mako's security headers)
//   dir:maxage(s)       Cache-Control max-age for static files
//   dir:io()            the IO it serves
//   dir:lspfilter(env)  the app environment that LSP pages will run in (kept for the LSP layer)
//   dir:getapp()        that environment
#pragma once
#include <remora/config.hpp>
#include <remora/vfs/directory.hpp>

struct lua_State;

namespace remora::lua {

inline constexpr const char* dir_tname = "remora.dir";

// Installs ba.create.resrdr into the table at the top of the stack (the `ba` table),
// creating ba.create when missing. `tree` must outlive the state.
void open_dir_lib(lua_State* L, vfs::tree& tree);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/dir_lib.ipp>
#endif
