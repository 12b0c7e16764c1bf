// The C core of LuaSocket's MIME module, as Mako has it: the global table `mime`, which
// require"mime.core" answers too (lua/.lua/mime.lua builds the filters of require"mime" on
// it). Written for Remora from LuaSocket's manual and RFC 2045 / RFC 4648.
//
// Every function is a low-level filter for ltn12.filter.cycle: it takes the context left by
// the previous call and the next chunk, and answers its output and the new context. A nil
// chunk marks the end of the data.
//
//   mime.b64(C [, D]) -> A, B     Base64 of the longest prefix of C..D made of whole 3-byte
//                                 groups; B the bytes left over. D nil: the rest is encoded
//                                 too, with '=' padding, and B is nil. C nil: nil, nil.
//   mime.unb64(C [, D]) -> A, B   Decodes the whole 4-character groups of C..D (characters
//                                 outside the Base64 alphabet are skipped; '=' ends a group
//                                 early); B the characters of an incomplete group. D nil: B
//                                 is nil when nothing is left over.
//   mime.qp(C [, D [, marker]]) -> A, B
//                                 Quoted-Printable (RFC 2045 6.7): bytes 33-60 and 62-126 as
//                                 they are, '=' and the rest as =XX, a space or tab as =20 or
//                                 =09 only before a line break, CRLF as `marker` ("\r\n" by
//                                 default; "=0D=0A" for binary data). B holds the (at most
//                                 two) bytes whose encoding depends on what follows. D nil:
//                                 they are encoded as the last of the data, followed by a soft
//                                 line break "=\r\n".
//   mime.unqp(C [, D]) -> A, B    Undoes it: =XX (either case) becomes the byte, "=\r\n" and
//                                 "=\n" (soft line breaks) vanish, an '=' followed by anything
//                                 else stays as it is, other bytes pass unchanged. D nil: a
//                                 lone '=' (or "=\r") at the very end vanishes.
//   mime.wrp(n [, B [, length]]) -> A, m
//                                 Breaks text into lines of at most `length` (76) bytes with
//                                 CRLF: n is what is left of the current line, m likewise
//                                 after B. CR is dropped, LF becomes CRLF. B nil: CRLF when
//                                 the last line is not empty (n < length), else nil; m=length.
//   mime.qpwrp(n [, B [, length]]) -> A, m
//                                 The same for Quoted-Printable text: the breaks are soft
//                                 ("=\r\n") and never split an =XX escape.
//   mime.eol(C [, D [, marker]]) -> A, B
//                                 Turns CR, LF, CRLF and LFCR into `marker` (CRLF). C is the
//                                 byte value of the previous chunk's last character when it
//                                 may be half of a pair (CR or LF), else 0; B likewise for D.
//                                 D nil: nil, 0.
//   mime.dot(m [, B]) -> A, n     SMTP dot-stuffing: a '.' at the start of a line is doubled.
//                                 m counts the characters of CRLF just seen (2 at the start of
//                                 a message). B nil: nil, 2.
//
// A is nil rather than "" when the data has ended and there is nothing more to give.
#pragma once
#include <remora/config.hpp>

#include <string>
#include <string_view>

struct lua_State;

namespace remora::lua {

// Creates the global `mime` and package.loaded["mime.core"] (the same table).
void open_mime(lua_State* L);

namespace mime {
// Whole-string helpers (what the Lua functions do with D nil), for C++ callers and tests.
std::string b64(std::string_view in);
std::string unb64(std::string_view in);
std::string qp(std::string_view in, std::string_view marker = "\r\n");
std::string unqp(std::string_view in);
}  // namespace mime

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/mime_lib.ipp>
#endif
