// ba.socket: sockets for Lua, as BAS has them.
//
//   ba.socket.req2sock(request [, subprotocol | true]) -> sock | nil, err
//       A WebSocket upgrade request becomes a WebSocket (the 101 goes out once the page waits
//       or ends; `subprotocol` is echoed); any other request (or `true`) hands over the raw
//       connection, nothing sent. Afterwards the page's own output is dropped.
//   ba.socket.connect(host, port [, {shark=, timeout=, intf=}]) -> sock | nil, err
//   ba.socket.bind(port [, {intf=, ipv6=, shark=}]) -> listening sock | nil, err
//   ba.socket.udpcon([localport] | host, port [, {intf=, ipv6=, port=}]) -> UDP sock
//   ba.socket.http2sock(httpc) -> sock (after a ws:// request answered 101, or a tunnel)
//   ba.socket.sock2req(sock [, data]) -> true   (the HTTP server reads requests from it again)
//   ba.socket.event(func, ...) -> true   func(...) as a cosocket without a socket yet
//   ba.socket.getsock() -> the running cosocket's socket | nil
//   ba.socket.n2h(n, s [, i]) -> integer    the n (1-8) bytes of s from position i (default 1),
//                                           big-endian (network order), as an unsigned integer
//   ba.socket.h2n(n, v) -> string           v as n (1-8) big-endian bytes
//   ba.socket.fn2h(4|8, s [, i]) -> number  a big-endian IEEE 754 float/double from s at i
//   ba.socket.fh2n(4|8, v) -> string        v as a big-endian float/double
//   ba.socket.toip(name) -> ip | nil, "cannotresolve"   (the VM lock is released meanwhile)
//
// Socket objects: read([ms]) -> data (TCP) | data, isText (WebSocket) | data, ip, port (UDP)
// | nil, err; write(data [, i [, j]]) / write(data, isText) -> true | false, queued (a full
// queue, for a writer other than the socket's own cosocket) | nil, err; close(); accept([ms]);
// event(func [, "s"|"r"], ...) (func(sock, ...) as a coroutine; the socket closes when it
// returns); disable() -> what enable(...) passes; enable(...); ping([data]); queuelen([n]);
// maxsize([n]) (WebSocket messages; bigger ones close with 1009); state() -> "connected" |
// "disabled" | "terminated", connected; peername(); sockname() -> ip, port, isIPv6;
// setoption("keepalive", on [, idle, interval] | "broadcast", on); upgrade(shark [, host])
// (STARTTLS); websocket(); owner(); sendto(data, ip, port) (UDP); certificate(); cipher();
// trusted() -> ok, why; isresumed(). Errors are BAS's names: socketclosed, timeout (the
// socket stays usable), cannotconnect, cannotresolve, sslhandshake, toomuchdata, bind,
// incorrectuse, invalidparam, sslnotenabled.
//
// Waiting calls suspend the calling coroutine in a cosocket, a page or a timer, and block in a
// ba.thread job, at start-up and in scripts (lua/await.hpp). A position outside s, or n out
// of range, raises an error.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

// Installs ba.socket into the `ba` table at the top of the stack.
void open_socket_lib(lua_State* L);
// ba.sleep in a cosocket (or any task that can yield, lua/await.hpp): the coroutine waits
// on a timer of the loop. Returns what the C function returns; -1 when L cannot yield.
int sleep_in_task(lua_State* L, unsigned ms);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/socket_lib.ipp>
#endif
