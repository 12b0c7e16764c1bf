// ba.pipe: named pipes (FIFOs), for exchanging data with other processes.
//
//   ba.pipe.mkfifo(path [, mode]) -> true | nil, message
//     Creates a FIFO. mode: the permission bits, an integer or a string of octal digits
//     ("600"); 0666 by default, less the umask. An existing file is an error.
//   ba.pipe.open(path [, "r" | "w" [, ms]]) -> pipe | nil, message
//     Opens a FIFO ("not a pipe" for anything else). "r" (the default) opens at once, with
//     or without a writer. "w" needs a reader: it waits up to ms milliseconds (default 0)
//     for one, then answers nil, "noreader".
//   pipe:read([ms]) -> data | nil, "timeout" | nil, "closed"
//     Waits up to ms milliseconds (default: until data comes) and returns what arrived, at
//     most 64 KiB. "closed": every writer has gone (or the pipe was closed); "timeout"
//     leaves the pipe usable.
//   pipe:write(data) -> true | nil, "closed" | nil, message
//     Writes all of data, waiting while the pipe is full; "closed": no reader is left.
//   pipe:close() -> true (also on garbage collection and for a to-be-closed variable)
//
// A call that waits releases the VM lock meanwhile (the other threads run Lua); in a page it
// holds up that page's thread. Mako documents only the names (open, mkfifo): the arguments
// and answers above are Remora's choice.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

// Installs ba.pipe into the `ba` table at the top of the stack.
void open_pipe_lib(lua_State* L);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/pipe_lib.ipp>
#endif
