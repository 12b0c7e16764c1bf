// require"httpc": the HTTP/1.1 client Mako's http/httpm modules build on (BAS's C module).
//
//   httpc.create([op]) -> client       op: shark (a client SharkSSL: whom to trust; default
//       Debian's CA bundle), trusted (refuse untrusted servers), persistent (keep the
//       connection for the next request to the same server, default true), intf (local
//       address), proxy/proxyport/socks/proxyuser/proxypass/proxycon (default: mako.conf's
//       proxy table, through httpc.setproxy)
//   client:request{url=, method="GET", header={name=value,...}, query={k=v,...}, size=n,
//       trusted=, shark=} -> true | nil, err
//       A method with a body (size given, or POST/PUT/PATCH) returns after the header went
//       out: write() sends the body (chunked when no size), status()/header()/read() end it.
//       Otherwise request() returns once the response header is in.
//   client:status() -> code | nil, err          client:header([name]) -> table | value
//   client:headerpairs() -> iterator over (name, value) in order
//   client:cookie([name]) -> {name=value} | value   (Set-Cookie of this response)
//   client:read([n | "*a" | "a"]) -> data | nil (the body has ended) | nil, err
//   client:write(data) -> true | nil, err       client:timeout([ms]) -> old (default 20000)
//   client:close()  client:certificate()  client:cipher()  client:trusted() -> bool, why
//   client:peername() client:sockname()  client:url() -> the last request's URL
//   httpc.parsequery(s) -> table          httpc.setproxy(table|nil)  (mako.conf's proxy)
//
// A ws:// or wss:// URL makes request() open a WebSocket (status() 101 when the server
// agreed); ba.socket.http2sock(client) then returns it as a socket object.
//
// Errors are BAS's names: cannotresolve, cannotconnect, sslhandshake, sslnottrusted,
// invalidurl, invalidresponse, socketclosed, timeout, proxyauth, prx*.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {
// Puts httpc into package.preload, and ba.socket.http2sock into the `ba` table at the top of
// the stack (after open_socket_lib).
void open_httpc(lua_State* L);
}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/httpc.ipp>
#endif
