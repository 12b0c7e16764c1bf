#pragma once
#include <remora/lua/bind.hpp>
#include <remora/lua/host.hpp>
#include <remora/lua/io_lib.hpp>
#include <remora/lua/net_lib.hpp>
#include <remora/lua/impl/ba_core.ipp>  // b64_encode
#include <remora/tls/session.hpp>
#include <remora/vfs/net_io.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <lauxlib.h>
#include <lua.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace remora::lua {

namespace detail {

inline constexpr const char* servcon_tname = "remora.servcon";

struct servcon_ud {
  host* h = nullptr;
  int id = 0;
  std::string intf;
  int family = 0;
  unsigned port = 0;
  std::shared_ptr<tls::context> tls;
  std::vector<bound_address> bound;
};

inline servcon_ud& check_servcon(lua_State* L) { return *check_object<servcon_ud>(L, 1, servcon_tname); }

inline bool bind_servcon(servcon_ud& s, std::string& err) {
  s.bound.clear();
  if (!s.h || !s.h->listen) {
    err = "no server to listen with";
    return false;
  }
  s.id = s.h->listen(s.intf, s.port, s.family, s.tls, s.bound, err);
  return s.id != 0;
}

inline void close_servcon(servcon_ud& s) {
  if (s.id && s.h && s.h->close_listener) s.h->close_listener(s.id);
  s.id = 0;
}

#if REMORA_TLS_BOTAN
inline constexpr const char* sharkssl_tname = "remora.sharkssl";
inline constexpr const char* sharkcert_tname = "remora.sharkcert";
inline constexpr const char* certstore_tname = "remora.certstore";

struct sharkssl_ud {
  std::shared_ptr<tls::context> ctx;              // a server context, or
  std::shared_ptr<tls::client_context> client;    // a client one (ba.sharkclient, op.server=false)
};

inline sharkssl_ud& check_server_shark(lua_State* L, int i) {
  auto* u = check_object<sharkssl_ud>(L, i, sharkssl_tname);
  if (!u->ctx) luaL_argerror(L, i, "a server SharkSSL object expected (this one is a client's)");
  return *u;
}
struct sharkcert_ud {
  std::shared_ptr<const tls::keypair> kp;
};
struct certstore_ud {
  std::shared_ptr<tls::certstore> cs;
};
#endif

// ba.create.servcon(port, {intf=, ipv6=, shark=})
inline int create_servcon(lua_State* L) {
  lua_Integer port = luaL_checkinteger(L, 1);
  if (port < 0 || port > 65535) return fail(L, ("invalid port " + std::to_string(port)).c_str());
  servcon_ud s;
  s.h = get_host(L);
  s.port = unsigned(port);
  if (lua_type(L, 2) == LUA_TTABLE) {
    if (lua_getfield(L, 2, "intf") == LUA_TSTRING) s.intf = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "ipv6") != LUA_TNIL) s.family = lua_toboolean(L, -1) ? 6 : 4;
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "shark") != LUA_TNIL) {
#if REMORA_TLS_BOTAN
      s.tls = check_server_shark(L, lua_gettop(L)).ctx;
#else
      return fail(L, "this edition has no TLS");
#endif
    }
    lua_pop(L, 1);
  }
  std::string err;
  if (!bind_servcon(s, err)) return fail(L, err.c_str());
  push_object<servcon_ud>(L, servcon_tname, std::move(s));
  return 1;
}

inline int servcon_close(lua_State* L) {
  close_servcon(check_servcon(L));
  return 0;
}

inline int servcon_setport(lua_State* L) {
  auto& s = check_servcon(L);
  lua_Integer port = luaL_checkinteger(L, 2);
  if (port < 0 || port > 65535) return fail(L, ("invalid port " + std::to_string(port)).c_str());
  servcon_ud next = s;
  next.port = unsigned(port);
  std::string err;
  if (!bind_servcon(next, err)) return fail(L, err.c_str());
  close_servcon(s);
  s = std::move(next);
  lua_pushboolean(L, 1);
  return 1;
}

inline int servcon_port(lua_State* L) {
  auto& s = check_servcon(L);
  if (s.bound.empty()) return 0;
  lua_pushinteger(L, s.bound.front().port);
  return 1;
}

inline int servcon_addresses(lua_State* L) {
  auto& s = check_servcon(L);
  lua_createtable(L, int(s.bound.size()), 0);
  int i = 0;
  for (auto& b : s.bound) {
    lua_createtable(L, 0, 3);
    lua_pushlstring(L, b.address.data(), b.address.size());
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, b.port);
    lua_setfield(L, -2, "port");
    lua_pushboolean(L, b.v6);
    lua_setfield(L, -2, "ipv6");
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

inline int servcon_favorrsa(lua_State* L) {
  auto& s = check_servcon(L);
#if REMORA_TLS_BOTAN
  if (s.tls) s.tls->favor_rsa(lua_isnone(L, 2) || lua_toboolean(L, 2));
#endif
  lua_pushboolean(L, s.tls != nullptr);
  return 1;
}

inline int servcon_clientcert(lua_State* L) {
  auto& s = check_servcon(L);
#if REMORA_TLS_BOTAN
  if (s.tls) s.tls->request_client_cert(lua_isnone(L, 2) || lua_toboolean(L, 2));
#endif
  lua_pushboolean(L, s.tls != nullptr);
  return 1;
}

#if REMORA_TLS_BOTAN
// PEM text as given, or the named file: through `io` when one is given, else the disk.
inline bool text_arg(lua_State* L, int i, const std::shared_ptr<vfs::io>& io, std::string& out, std::string& err) {
  std::size_t n;
  const char* s = luaL_checklstring(L, i, &n);
  std::string_view v(s, n);
  if (v.find("-----BEGIN") != std::string_view::npos) {
    out.assign(v);
    return true;
  }
  if (io) return read_file(*io, v, out, err);
  std::ifstream f(std::string(v), std::ios::binary);
  if (!f) {
    err = std::string(v) + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

inline int create_sharkcert(lua_State* L) {
  int a = 1;
  std::shared_ptr<vfs::io> io;
  if (lua_type(L, 1) == LUA_TUSERDATA) {
    io = check_io(L, 1);
    a = 2;
  }
  std::string cert, key, err;
  if (!text_arg(L, a, io, cert, err) || !text_arg(L, a + 1, io, key, err)) return fail(L, err.c_str());
  std::size_t pn = 0;
  const char* pw = lua_isstring(L, a + 2) ? lua_tolstring(L, a + 2, &pn) : "";
  auto kp = tls::keypair::from_pem(cert, key, std::string_view(pw, pn), err);
  if (!kp) return fail(L, err.c_str());
  push_object<sharkcert_ud>(L, sharkcert_tname, sharkcert_ud{std::move(kp)});
  return 1;
}

inline const tls::keypair& check_sharkcert(lua_State* L, int i) {
  return *check_object<sharkcert_ud>(L, i, sharkcert_tname)->kp;
}
inline int sharkcert_name(lua_State* L) {
  lua_pushstring(L, check_sharkcert(L, 1).name().c_str());
  return 1;
}
inline int sharkcert_hosts(lua_State* L) {
  auto& kp = check_sharkcert(L, 1);
  lua_createtable(L, int(kp.hosts().size()), 0);
  int i = 0;
  for (auto& h : kp.hosts()) {
    lua_pushstring(L, h.c_str());
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}
inline int sharkcert_notafter(lua_State* L) {
  lua_pushinteger(L, lua_Integer(check_sharkcert(L, 1).not_after()));
  return 1;
}

inline int create_certstore(lua_State* L) {
  push_object<certstore_ud>(L, certstore_tname, certstore_ud{std::make_shared<tls::certstore>()});
  return 1;
}

inline int certstore_addcert(lua_State* L) {
  auto& cs = *check_object<certstore_ud>(L, 1, certstore_tname)->cs;
  int a = 2;
  std::shared_ptr<vfs::io> io;
  if (lua_type(L, 2) == LUA_TUSERDATA) {
    io = check_io(L, 2);
    a = 3;
  }
  std::string text, err;
  if (!text_arg(L, a, io, text, err) || !cs.add(text, err)) return fail(L, err.c_str());
  lua_pushboolean(L, 1);
  return 1;
}

// ba.create.sharkssl([certstore] [, op]): a server context; with op.server == false a client
// context that trusts the store's certificates (and nothing else).
inline int create_sharkssl(lua_State* L) {
  std::shared_ptr<tls::certstore> cs;
  if (lua_type(L, 1) == LUA_TUSERDATA) cs = check_object<certstore_ud>(L, 1, certstore_tname)->cs;
  bool server = true;
  int op = lua_type(L, 1) == LUA_TTABLE ? 1 : 2;
  if (lua_type(L, op) == LUA_TTABLE) {
    if (lua_getfield(L, op, "server") != LUA_TNIL) server = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (!server) {
    auto client = std::make_shared<tls::client_context>(false);
    if (cs) client->add_store(*cs);
    push_object<sharkssl_ud>(L, sharkssl_tname, sharkssl_ud{nullptr, std::move(client)});
    return 1;
  }
  auto ctx = std::make_shared<tls::context>();
  if (cs) ctx->set_certstore(cs->snapshot());  // certificates added later do not count
  push_object<sharkssl_ud>(L, sharkssl_tname, sharkssl_ud{std::move(ctx), nullptr});
  return 1;
}

// ba.sharkclient() -> sharkssl: the client context that trusts Debian's CA bundle (made once).
inline int sharkclient(lua_State* L) {
  push_object<sharkssl_ud>(L, sharkssl_tname, sharkssl_ud{nullptr, tls::client_context::system()});
  return 1;
}

inline int sharkssl_addcert(lua_State* L) {
  auto& ctx = *check_server_shark(L, 1).ctx;
  auto kp = check_object<sharkcert_ud>(L, 2, sharkcert_tname)->kp;
  ctx.add(std::move(kp));
  lua_pushboolean(L, 1);
  return 1;
}

inline int sharkssl_replace(lua_State* L) {
  auto& ctx = *check_server_shark(L, 1).ctx;
  auto& other = *check_server_shark(L, 2).ctx;
  ctx.assign(other);
  lua_pushboolean(L, 1);
  return 1;
}

inline int sharkssl_size(lua_State* L) {
  auto* u = check_object<sharkssl_ud>(L, 1, sharkssl_tname);
  lua_pushinteger(L, u->ctx ? lua_Integer(u->ctx->size()) : 0);
  return 1;
}

inline int sharkssl_isclient(lua_State* L) {
  lua_pushboolean(L, check_object<sharkssl_ud>(L, 1, sharkssl_tname)->client != nullptr);
  return 1;
}

// ba.selfsignedcert(names, days [, dir]) -> certpem, keypem, saved: with `dir`, also written
// to dir/remora.pem and dir/remora.key (the key readable by the owner only; dir made 0700).
inline int selfsignedcert(lua_State* L) {
  std::vector<std::string> names;
  if (lua_type(L, 1) == LUA_TTABLE) {
    for (lua_Integer i = 1;; ++i) {
      if (lua_rawgeti(L, 1, i) != LUA_TSTRING) {
        lua_pop(L, 1);
        break;
      }
      names.emplace_back(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  } else if (lua_isstring(L, 1)) {
    names.emplace_back(lua_tostring(L, 1));
  }
  lua_Integer days = luaL_optinteger(L, 2, 3650);
  if (days < 1 || days > 36500) return fail(L, "days: 1 to 36500");
  std::string cert, key, err;
  if (!tls::keypair::make_self_signed(names, unsigned(days), cert, key, err)) return fail(L, err.c_str());
  bool saved = false;
  if (const char* dir = lua_isstring(L, 3) ? lua_tostring(L, 3) : nullptr) {
    ::mkdir(dir, 0700);
    auto write = [](const std::string& path, const std::string& text, mode_t mode) {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
      if (fd < 0) return false;
      bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
      return ::close(fd) == 0 && ok;
    };
    saved = write(std::string(dir) + "/remora.key", key, 0600) && write(std::string(dir) + "/remora.pem", cert, 0644);
  }
  lua_pushlstring(L, cert.data(), cert.size());
  lua_pushlstring(L, key.data(), key.size());
  lua_pushboolean(L, saved);
  return 3;
}
#endif

// The client SharkSSL object of option `shark` in the table at `t` (nullptr when absent); a
// server one, or any in an edition without TLS, raises an error naming `who`.
inline std::shared_ptr<void> shark_opt(lua_State* L, int t, const char* who) {
  std::shared_ptr<void> r;
  if (lua_getfield(L, t, "shark") != LUA_TNIL) {
#if REMORA_TLS_BOTAN
    auto* u = check_object<sharkssl_ud>(L, -1, sharkssl_tname);
    if (!u->client) luaL_error(L, "%s: shark must be a client SharkSSL object", who);
    r = u->client;
#else
    luaL_error(L, "%s: this edition has no TLS", who);
#endif
  }
  lua_pop(L, 1);
  return r;
}

// io:netconf{shark=, timeout=ms, trusted=bool, user=, password=}: a net IO's settings (the
// others are kept). trusted=false accepts a server certificate that is not trusted.
inline int io_netconf(lua_State* L) {
  auto io = check_io(L, 1);
  auto* net = dynamic_cast<vfs::net_io*>(io.get());
  if (!net) return fail(L, "notsupported");
  luaL_checktype(L, 2, LUA_TTABLE);
  auto o = net->options();
  if (auto sh = shark_opt(L, 2, "netconf")) o.tls = sh;
  if (lua_getfield(L, 2, "timeout") != LUA_TNIL) {
    lua_Integer ms = luaL_checkinteger(L, -1);
    if (ms < 1 || ms > 3600000) luaL_error(L, "netconf: timeout must be 1 to 3600000 ms");
    o.timeout_ms = unsigned(ms);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 2, "trusted") != LUA_TNIL) o.require_trust = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, 2, "user") == LUA_TSTRING) {
    std::string cred = lua_tostring(L, -1);
    lua_getfield(L, 2, "password");
    cred.append(":").append(luaL_optstring(L, -1, ""));
    lua_pop(L, 1);
    o.authorization = "Basic " + b64_encode(cred, false);
  }
  lua_pop(L, 1);
  net->configure(std::move(o));
  lua_pushboolean(L, 1);
  return 1;
}

inline void set_create(lua_State* L, const char* name, lua_CFunction f) {
  luaL_getsubtable(L, -1, "create");  // ba.create, made by whichever library comes first
  lua_pushcfunction(L, f);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

}  // namespace detail

REMORA_DECL int push_peer_certificate(lua_State* L, const tls::peer_info* p) {
  if (!p || p->chain.empty()) return 0;
  const std::string& der = p->chain.front();
  lua_getglobal(L, "ba");
  if (lua_getfield(L, -1, "parsecert") == LUA_TFUNCTION) {
    lua_pushlstring(L, der.data(), der.size());
    lua_call(L, 1, 1);
  } else {
    lua_pop(L, 1);
    lua_pushlstring(L, der.data(), der.size());
  }
  lua_remove(L, -2);
  lua_pushboolean(L, p->trusted);
  return 2;
}

REMORA_DECL int push_peer_cipher(lua_State* L, const tls::peer_info* p) {
  if (!p) return 0;
  lua_pushlstring(L, p->cipher.data(), p->cipher.size());
  lua_pushlstring(L, p->version.data(), p->version.size());
  return 2;
}

REMORA_DECL int push_peer_trusted(lua_State* L, const tls::peer_info* p) {
  if (!p) return fail(L, "sslnotenabled");
  lua_pushboolean(L, p->trusted);
  lua_pushstring(L, p->trusted ? "valid" : (p->trust_error.empty() ? "untrusted" : p->trust_error.c_str()));
  return 2;
}

REMORA_DECL void open_net_lib(lua_State* L) {
  using namespace detail;
  static const luaL_Reg servcon_methods[] = {
      {"close", servcon_close}, {"setport", servcon_setport}, {"favorRSA", servcon_favorrsa},
      {"clientcert", servcon_clientcert}, {"port", servcon_port}, {"addresses", servcon_addresses},
      {nullptr, nullptr}};
  define_class<servcon_ud>(L, servcon_tname, servcon_methods);
  set_create(L, "servcon", create_servcon);
  if (luaL_getmetatable(L, io_tname) == LUA_TTABLE) {  // the IO objects of io_lib get netconf
    if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
      lua_pushcfunction(L, io_netconf);
      lua_setfield(L, -2, "netconf");
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
#if REMORA_TLS_BOTAN
  static const luaL_Reg cert_methods[] = {
      {"name", sharkcert_name}, {"hosts", sharkcert_hosts}, {"notafter", sharkcert_notafter}, {nullptr, nullptr}};
  define_class<sharkcert_ud>(L, sharkcert_tname, cert_methods);
  static const luaL_Reg store_methods[] = {{"addcert", certstore_addcert}, {nullptr, nullptr}};
  define_class<certstore_ud>(L, certstore_tname, store_methods);
  static const luaL_Reg ssl_methods[] = {
      {"addcert", sharkssl_addcert}, {"replace", sharkssl_replace}, {"size", sharkssl_size},
      {"isclient", sharkssl_isclient}, {nullptr, nullptr}};
  define_class<sharkssl_ud>(L, sharkssl_tname, ssl_methods);
  set_create(L, "sharkcert", create_sharkcert);
  set_create(L, "certstore", create_certstore);
  set_create(L, "sharkssl", create_sharkssl);
  lua_pushcfunction(L, selfsignedcert);
  lua_setfield(L, -2, "selfsignedcert");
  lua_pushcfunction(L, sharkclient);
  lua_setfield(L, -2, "sharkclient");
#endif
}

}  // namespace remora::lua
