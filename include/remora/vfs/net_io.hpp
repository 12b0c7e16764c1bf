// The network IO (BAS's NetIo): files of a remote HTTP(S) server, read-only, seen through the
// vfs::io interface so that an app, or the home IO, can live at an http(s):// URL (the Mako
// manual's "network path" apps).
//
// Rooted at a base URL "http(s)://host[:port]/path/", a name maps to base + the name's
// percent-encoded segments. Without a base (ba.openio"net") every name is itself an absolute
// URL; ba.mkio(netio, url) makes a rooted one.
//
//   stat   HEAD: 200 -> a file (size from Content-Length, mtime from Last-Modified, stamp from
//          the ETag); a redirect to "name/" (what servers answer for a directory asked for
//          without its slash) -> a directory; 404/410 -> "notfound"; 401/403 -> "noaccess".
//          The root is a directory whenever the server answers.
//   open   "r" only: GET, the body kept in memory with its ETag and revalidated with
//          If-None-Match (a 304 keeps the copy); every other mode, and mkdir, rmdir, remove,
//          rename, give "readonly".
//   files  WebDAV PROPFIND with Depth: 1; "notsupported" when the server does not answer it.
//   source the body as send_source.text.
//
// What the server says is remembered for a second per name (answers, missing files and
// bodies alike), as the resource reader's own cache does: a change on the remote side shows
// within about a second, and a busy page costs the remote server at most a request a second.
//
// The calls are synchronous and come from the server's loop threads, so the IO does not use
// those loops: it has its own io_context and runs each exchange to its end on the calling
// thread, one at a time (a mutex), over a kept-alive connection when the server allows it.
// Every exchange is bounded by the timeout (10 s unless configured): a server that does not
// answer costs a caller that long and then "timeout". Connection failures give the HTTP
// client's words: "cannotresolve", "cannotconnect", "timeout", "sslhandshake",
// "sslnotenabled" (an https URL in an edition without TLS), "socketclosed", "invalidresponse".
#pragma once
#include <remora/config.hpp>
#include <remora/http/util.hpp>
#include <remora/vfs/io.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace remora::vfs {

// One <response> of a WebDAV multistatus body.
struct dav_entry {
  std::string path;  // the href's path, percent-decoded ("/app/sub/")
  file_info info;    // is_dir from <collection/>, size, mtime from getlastmodified
};
// The responses of a 207 Multi-Status body (any namespace prefix; entities decoded; an href
// that is a full URL gives its path). False when the text holds no multistatus element.
bool parse_multistatus(std::string_view xml, std::vector<dav_entry>& out);

// What a net IO is configured with (io:netconf).
struct net_options {
  unsigned timeout_ms = 10000;   // per exchange: connect, TLS, request and response
  std::shared_ptr<void> tls;     // a tls::client_context; empty: Debian's CA bundle
  bool require_trust = true;     // refuse a server whose certificate is not trusted
  std::string authorization;     // an Authorization header value sent with every request
  std::uint64_t max_body = 64u << 20;  // a larger file is refused ("mem")
};

class net_io final : public io {
 public:
  // `base`: an http(s) URL (a '/' is added to its path when missing), or empty for the
  // unrooted IO whose names are URLs. Throws std::invalid_argument for a URL it cannot use.
  explicit net_io(std::string_view base = {}, net_options opts = {});
  ~net_io() override;

  std::pair<std::string, std::string> resourcetype() const override { return {"net", ""}; }
  std::string realpath(std::string_view) const override { return {}; }
  bool stat(std::string_view name, file_info& info, std::string& err) const override;
  std::unique_ptr<file> open(std::string_view name, std::string_view mode, std::string& err) override;
  bool files(std::string_view name, const std::function<void(std::string_view, const file_info&)>& f,
             std::string& err) const override;
  bool mkdir(std::string_view, std::string& err) override { return err = "readonly", false; }
  bool rmdir(std::string_view, std::string& err) override { return err = "readonly", false; }
  bool remove(std::string_view, std::string& err) override { return err = "readonly", false; }
  bool rename(std::string_view, std::string_view, std::string& err) override { return err = "readonly", false; }
  bool source(std::string_view name, send_source& out, std::string& err) const override;

  // The base URL ("" for the unrooted IO).
  const std::string& base() const noexcept { return base_; }
  // A net IO rooted at `path`: an absolute URL, or a directory name under this IO's base.
  // It starts with this IO's options. nullptr with `err` ("invalidname", or what stat said of
  // a relative path that is not a directory).
  std::shared_ptr<net_io> sub(std::string_view path, std::string& err) const;
  void configure(net_options opts);
  net_options options() const;

  struct client;

 private:
  // The URL of `name` (its host, port, scheme and the request target); false: "invalidname".
  bool locate(std::string_view name, http::url_parts& u, std::string& key) const;
  std::string base_;
  http::url_parts root_;
  std::unique_ptr<client> c_;
};

}  // namespace remora::vfs

#if REMORA_HEADER_ONLY
#  include <remora/vfs/impl/net_io.ipp>
#endif
