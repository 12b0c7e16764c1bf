// The Lua IO object and file object (BAS's), ba.openio, ba.mkio and ba.io.
//
// io:open(name [,mode]) -> file | nil,err        file:read(n|"a"|"*a") file:write(...)
// io:stat(name) -> {mtime,size,isdir} | nil,err  file:seek(pos) file:flush() file:close()
// io:files(dir [,extended]) -> iterator of name[,isdir,mtime,size]      file:getio()
// io:mkdir rmdir remove rename -> true | nil,err
// io:realpath(name) -> path | nil  io:resourcetype() -> "disk","POSIX" | "zip","zip" | "net"
// io:type() -> same first value   io:loadfile(name [,env]) -> func | nil,err   io:dofile(...)
// io:hide() io:encrypted() io:setpasswd() io:close()
// io:netconf{shark=, timeout=, trusted=, user=, password=} (net IOs; installed by net_lib)
// ba.mkio(io, path): a sub-IO (a directory or .zip on disk, a URL or directory of a net IO);
// ba.mkio(url): a net IO rooted at an http(s) URL.
#pragma once
#include <remora/config.hpp>
#include <remora/vfs/io.hpp>

#include <map>
#include <memory>
#include <string>

struct lua_State;

namespace remora::lua {

inline constexpr const char* io_tname = "remora.io";
inline constexpr const char* file_tname = "remora.file";

// The IOs ba.openio() can name: "disk", "home", "vm", "net", ...; kept in the Lua registry.
// open_io_lib() adds "net" (an unrooted vfs::net_io) when it is missing.
struct io_registry {
  std::map<std::string, std::shared_ptr<vfs::io>> named;
};

// Installs the IO and file classes and ba.openio/ba.mkio/ba.io into the table at the top of
// the stack (the `ba` table). `reg` must outlive the state.
void open_io_lib(lua_State* L, io_registry& reg);

// Pushes an IO object for `io`.
void push_io(lua_State* L, std::shared_ptr<vfs::io> io);
// The IO object at `idx` (raises a Lua error when it is not one).
std::shared_ptr<vfs::io> check_io(lua_State* L, int idx);

// Makes an IO for `path` inside `base`: a ZIP file gives a ZIP IO over it, a directory a
// disk IO rooted there; for a net IO, a net IO rooted at the URL or directory. nullptr with
// `err`.
std::shared_ptr<vfs::io> make_io(const std::shared_ptr<vfs::io>& base, std::string_view path, std::string& err);

// The whole of file `name` of `io` into `text`; false and `err` ("name: reason") on failure.
bool read_file(vfs::io& io, std::string_view name, std::string& text, std::string& err);

// Loads a Lua chunk from `io` (a leading "#!" line is skipped). On failure returns false and
// leaves the error message on the stack; else leaves the function.
bool load_chunk(lua_State* L, vfs::io& io, std::string_view name, std::string& err);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/io_lib.ipp>
#endif
