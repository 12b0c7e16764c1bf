// The Lua Server Pages compiler: page text in, a Lua chunk out.
//
//   text                -> _emit"text";            (quoted, escaped; never a long bracket)
//   <?lsp code ?>       -> code                    (verbatim)
//   <?lsp= expr ?>      -> _emit(tostring( expr ));
//
// The chunk begins with `local _ENV,pathname,io,page,app=...;` and is called as
// (cmdEnv, pathname, io, page, app). Tags are case-sensitive and need no white space
// (`<?lspx ?>` is the code `x`); the first `?>` ends a tag, even inside a Lua string. One
// newline (\n or \r\n) right after `?>` is swallowed, as Mako does. Line numbers in the chunk
// equal those of the page, so Lua errors point at the right line.
//
// Mako emits text as _emit[===[TEXT]===], which breaks on text that contains "]===]" and
// drops a newline that begins a text block; quoting the text avoids both.
#pragma once
#include <remora/config.hpp>

#include <string>
#include <string_view>

namespace remora::lsp {

// False with `error` = "start tag without end tag at line# N" when a tag is not closed.
bool compile(std::string_view page, std::string& chunk, std::string& error);

}  // namespace remora::lsp

#if REMORA_HEADER_ONLY
#  include <remora/lsp/impl/compiler.ipp>
#endif
