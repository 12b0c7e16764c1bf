// Listeners and server TLS objects for Lua, as .openports uses them:
//
//   ba.create.servcon(port, {intf=, ipv6=, shark=}) -> servcon | nil,err
//       servcon:close() servcon:setport(port) -> true | nil,err  servcon:favorRSA(on)
//       servcon:clientcert(on) servcon:port() servcon:addresses() -> {{address,port,ipv6},...}
//   ba.create.sharkcert([io,] cert, key [,password]) -> sharkcert | nil,err   (PEM text or
//       file names; files are read through `io`, else from the disk relative to the cwd)
//       sharkcert:name() sharkcert:hosts() sharkcert:notafter()
//   ba.create.certstore() -> certstore    certstore:addcert([io,] pem|name) -> true | nil,err
//   ba.create.sharkssl([certstore] [,op]) -> sharkssl (op.server=false: a client context that
//       trusts the store)   ba.sharkclient() -> sharkssl (a client context trusting Debian's CA
//       bundle) sharkssl:isclient()
//       sharkssl:addcert(sharkcert) sharkssl:replace(other) (takes other's certificates and
//       store, for mako.loadcerts: connections already open keep theirs)
//   ba.selfsignedcert(names, days) -> certpem, keypem | nil,err   (Remora's own: a new
//       ECDSA P-256 certificate when no certificate is configured)
//   io:netconf{shark=, timeout=ms, trusted=, user=, password=} -> true | nil,"notsupported"
//       (a net IO's settings, added to io_lib's IO objects when io_lib is open first)
//
// ipv6=true binds IPv6 only, false IPv4 only; nil (Remora's extension) both. The TLS objects
// exist only in editions with a TLS policy; there a `shark` option is refused.
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::tls {
struct peer_info;
}

namespace remora::lua {

// Installs the functions above into the `ba` table at the top of the stack.
void open_net_lib(lua_State* L);

// What request, socket and HTTP client objects answer about a TLS peer (`p` nullptr: a plain
// connection). certificate() -> ba.parsecert's table of the peer's certificate (its DER where
// there is no ba.parsecert), trusted | nothing; cipher() -> suite, version | nothing;
// trusted() -> ok, why | nil, "sslnotenabled".
int push_peer_certificate(lua_State* L, const tls::peer_info* p);
int push_peer_cipher(lua_State* L, const tls::peer_info* p);
int push_peer_trusted(lua_State* L, const tls::peer_info* p);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/net_lib.ipp>
#endif
