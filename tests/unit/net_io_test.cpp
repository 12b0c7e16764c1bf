// vfs/net_io.hpp and the URL parser it shares with the HTTP client: URLs, PROPFIND answers,
// and the IO against a scripted HTTP server on loopback (what each status means, the
// one-second memory, conditional GETs, kept-alive connections, a server that closed one, a
// server that never answers, read-only calls).
#include <doctest.h>
#include <remora/http/util.hpp>
#include <remora/vfs/net_io.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using remora::vfs::dav_entry;
using remora::vfs::file_info;
using remora::vfs::net_io;

TEST_CASE("parse_url and authority") {
  remora::http::url_parts u;
  REQUIRE(remora::http::parse_url("http://example.com", u));
  CHECK((u.host == "example.com" && u.port == 80 && u.target == "/" && !u.tls && !u.ws));
  REQUIRE(remora::http::parse_url("HTTPS://user:pw@[::1]:8443/a%20b/c?x=1#frag", u));
  CHECK((u.tls && u.host == "::1" && u.port == 8443 && u.target == "/a%20b/c?x=1" && u.userinfo == "user:pw"));
  CHECK(remora::http::authority(u) == "[::1]:8443");
  REQUIRE(remora::http::parse_url("wss://h?q", u));
  CHECK((u.ws && u.tls && u.port == 443 && u.target == "/?q"));
  CHECK(remora::http::authority(u) == "h");
  REQUIRE(remora::http::parse_url("http://h:8080/p", u));
  CHECK(remora::http::authority(u) == "h:8080");
  for (const char* bad : {"ftp://h/", "http://", "http://:80/", "http://h:0/", "http://h:65536/", "http://h:8x/",
                          "http://[::1/", "http://[::1]x/", "no-scheme"})
    CHECK_MESSAGE(!remora::http::parse_url(bad, u), bad);
}

TEST_CASE("parse_multistatus: prefixes, entities, full URLs, failed propstats") {
  std::vector<dav_entry> e;
  const char* xml = R"(<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:">
  <D:response><D:href>/app/</D:href>
    <D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype>
      <D:getlastmodified>Sun, 06 Nov 1994 08:49:37 GMT</D:getlastmodified></D:prop>
      <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
  <!-- a comment with <D:response> in it -->
  <D:response><D:href>http://host:8080/app/a%20b&amp;c.txt</D:href>
    <D:propstat><D:prop><D:resourcetype/><D:getcontentlength> 1234 </D:getcontentlength></D:prop>
      <D:status>HTTP/1.1 200 OK</D:status></D:propstat>
    <D:propstat><D:prop><D:getlastmodified>Mon, 07 Nov 1994 08:49:37 GMT</D:getlastmodified></D:prop>
      <D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>
</D:multistatus>)";
  REQUIRE(remora::vfs::parse_multistatus(xml, e));
  REQUIRE(e.size() == 2);
  CHECK((e[0].path == "/app/" && e[0].info.is_dir && e[0].info.mtime == 784111777));
  CHECK((e[1].path == "/app/a b&c.txt" && !e[1].info.is_dir && e[1].info.size == 1234));
  CHECK(e[1].info.mtime == 0);  // given only under a 404 propstat

  // no prefix (a default namespace), CDATA, a numeric character reference
  const char* plain = R"(<multistatus xmlns="DAV:"><response><href><![CDATA[/d/x&y/]]></href>
    <propstat><prop><resourcetype><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat>
    </response><response><href>/d/caf&#xE9;</href><propstat><prop><getcontentlength>7</getcontentlength></prop>
    </propstat></response></multistatus>)";
  REQUIRE(remora::vfs::parse_multistatus(plain, e));
  REQUIRE(e.size() == 2);
  CHECK((e[0].path == "/d/x&y/" && e[0].info.is_dir));
  CHECK((e[1].path == "/d/caf\xC3\xA9" && e[1].info.size == 7));

  CHECK_FALSE(remora::vfs::parse_multistatus("<html><body>not dav</body></html>", e));
  CHECK(e.empty());
  CHECK_FALSE(remora::vfs::parse_multistatus("", e));
  CHECK_FALSE(remora::vfs::parse_multistatus("<D:multistatus", e));  // cut short
}

namespace {

// An HTTP server on a loopback port answering each request with what `answer` returns for it
// (the request's head and body as received, and its number from 0): the bytes to send, or
// hang (keep the connection, never answer), or close afterwards.
struct scripted_server {
  struct reply {
    std::string bytes;
    bool close = false, hang = false;
  };
  using answer_fn = std::function<reply(const std::string& request, int nth)>;

  explicit scripted_server(answer_fn f) : answer(std::move(f)) {
    lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(lfd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(lfd, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    worker = std::thread([this] { run(); });
  }
  ~scripted_server() {
    done = true;
    worker.join();
    for (auto& [fd, buf] : conns) ::close(fd);
    ::close(lfd);
  }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port) + path; }
  std::vector<std::string> requests() {
    std::lock_guard lock(m);
    return seen;
  }

  answer_fn answer;
  int lfd = -1;
  std::uint16_t port = 0;
  std::atomic<int> accepted{0};
  std::atomic<bool> done{false};
  std::mutex m;
  std::vector<std::string> seen;
  std::map<int, std::string> conns;  // fd -> bytes received, not yet answered
  std::thread worker;

 private:
  void run() {
    while (!done) {
      std::vector<pollfd> p{{lfd, POLLIN, 0}};
      for (auto& [fd, buf] : conns) p.push_back({fd, POLLIN, 0});
      if (::poll(p.data(), p.size(), 20) <= 0) continue;
      if (p[0].revents & POLLIN) {
        int c = ::accept(lfd, nullptr, nullptr);
        if (c >= 0) conns[c], ++accepted;
      }
      for (std::size_t i = 1; i < p.size(); ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        int fd = p[i].fd;
        char buf[4096];
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(fd);
          conns.erase(fd);
          continue;
        }
        conns[fd].append(buf, std::size_t(n));
        serve(fd);
      }
    }
  }
  void serve(int fd) {
    auto& in = conns[fd];
    auto end = in.find("\r\n\r\n");
    if (end == std::string::npos) return;
    std::size_t body = 0;
    if (auto cl = in.find("Content-Length: "); cl != std::string::npos && cl < end) body = std::stoul(in.substr(cl + 16));
    if (in.size() < end + 4 + body) return;
    std::string req = in.substr(0, end + 4 + body);
    in.erase(0, req.size());
    int nth;
    {
      std::lock_guard lock(m);
      seen.push_back(req);
      nth = int(seen.size()) - 1;
    }
    reply r = answer(req, nth);
    if (r.hang) return;
    ::send(fd, r.bytes.data(), r.bytes.size(), MSG_NOSIGNAL);
    if (r.close) {
      ::close(fd);
      conns.erase(fd);
    }
  }
};

scripted_server::reply ok(const std::string& body, const std::string& extra = "") {
  return {"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body};
}
scripted_server::reply status(int code, const std::string& extra = "") {
  return {"HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Length: 0\r\n" + extra + "\r\n"};
}
std::string request_line(const std::string& req) { return req.substr(0, req.find("\r\n")); }

}  // namespace

TEST_CASE("net_io: stat, open and files against a server") {
  const std::string etag = "\"v1\"";
  const std::string lm = "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
  scripted_server s([&](const std::string& req, int) -> scripted_server::reply {
    std::string line = request_line(req);
    if (line == "HEAD /app/f.txt HTTP/1.1") return {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: " + etag + "\r\n" + lm + "\r\n"};
    if (line == "GET /app/f.txt HTTP/1.1") {
      if (req.find("If-None-Match: " + etag + "\r\n") != std::string::npos) return status(304, "ETag: " + etag + "\r\n");
      return ok("hello", "ETag: " + etag + "\r\n" + lm);
    }
    if (line == "HEAD /app/dir HTTP/1.1") return status(301, "Location: http://elsewhere.example/app/dir/\r\n");
    if (line == "GET /app/dir2 HTTP/1.1") return status(301, "Location: /app/dir2/\r\n");
    if (line == "HEAD /app/moved HTTP/1.1") return status(302, "Location: /other/\r\n");
    if (line == "HEAD /app/secret HTTP/1.1") return status(403);
    if (line == "HEAD /app/a%20b.txt HTTP/1.1") return ok("");
    if (line == "HEAD /app/ HTTP/1.1") return status(404);  // a directory without an index
    if (line == "PROPFIND /app/dir/ HTTP/1.1") {
      if (req.find("Depth: 1\r\n") == std::string::npos || req.find("<D:propfind") == std::string::npos)
        return status(400);
      std::string x = "<d:multistatus xmlns:d=\"DAV:\">"
                      "<d:response><d:href>/app/dir/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/>"
                      "</d:resourcetype></d:prop></d:propstat></d:response>"
                      "<d:response><d:href>/app/dir/x.txt</d:href><d:propstat><d:prop><d:resourcetype/>"
                      "<d:getcontentlength>3</d:getcontentlength></d:prop></d:propstat></d:response>"
                      "<d:response><d:href>/app/dir/sub/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/>"
                      "</d:resourcetype></d:prop></d:propstat></d:response>"
                      "<d:response><d:href>/app/dir/sub/deeper.txt</d:href></d:response>"
                      "<d:response><d:href>/elsewhere/y.txt</d:href></d:response></d:multistatus>";
      return {"HTTP/1.1 207 Multi-Status\r\nContent-Length: " + std::to_string(x.size()) + "\r\n\r\n" + x};
    }
    if (line == "PROPFIND /app/ HTTP/1.1") return status(405);
    return status(404);
  });
  net_io io(s.url("/app"));  // the '/' is added
  CHECK(io.base() == s.url("/app/"));
  CHECK(io.resourcetype() == std::pair<std::string, std::string>{"net", ""});
  CHECK(io.realpath("f.txt").empty());
  std::string err;
  file_info i;
  REQUIRE(io.stat("f.txt", i, err));
  CHECK((!i.is_dir && i.size == 5 && i.mtime == 784111777 && i.stamp != 0));
  REQUIRE(io.stat("/dir/", i, err));  // the redirect to "dir/" (even on another host) says directory
  CHECK(i.is_dir);
  CHECK_FALSE(io.stat("moved", i, err));
  CHECK(err == "notfound");
  CHECK_FALSE(io.stat("secret", i, err));
  CHECK(err == "noaccess");
  CHECK_FALSE(io.stat("nothing", i, err));
  CHECK(err == "notfound");
  CHECK(io.stat("a b.txt", i, err));  // names are percent-encoded
  CHECK_FALSE(io.stat("../escape", i, err));
  CHECK(err == "invalidname");
  REQUIRE(io.stat("", i, err));  // the root is a directory whatever the server says of it
  CHECK(i.is_dir);

  // answers are remembered for a second: no new requests
  auto before = s.requests().size();
  CHECK(io.stat("f.txt", i, err));
  CHECK_FALSE(io.stat("nothing", i, err));
  CHECK(s.requests().size() == before);

  auto f = io.open("f.txt", "r", err);
  REQUIRE(f);
  char buf[16];
  CHECK(f->size() == 5);
  CHECK(f->read(buf, sizeof buf, err) == 5);
  CHECK(std::string(buf, 5) == "hello");
  CHECK(f->seek(1, err));
  CHECK(f->read(buf, 2, err) == 2);
  CHECK(std::string(buf, 2) == "el");
  CHECK_FALSE(f->write("x", 1, err));
  CHECK(err == "readonly");
  CHECK_FALSE(f->seek(6, err));

  // a directory opened as a file: "isdir", and stat knows it for the next second
  CHECK_FALSE(io.open("dir2", "r", err));
  CHECK(err == "isdir");
  before = s.requests().size();
  REQUIRE(io.stat("dir2", i, err));
  CHECK(i.is_dir);
  CHECK(s.requests().size() == before);

  // after a second, a conditional GET: the 304 keeps the copy
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  remora::vfs::send_source src;
  REQUIRE(io.source("f.txt", src, err));
  CHECK(src.text == "hello");
  CHECK(src.info.size == 5);
  auto reqs = s.requests();
  CHECK(request_line(reqs.back()) == "GET /app/f.txt HTTP/1.1");
  CHECK(reqs.back().find("If-None-Match: \"v1\"\r\n") != std::string::npos);
  CHECK(reqs.back().find("Host: 127.0.0.1:" + std::to_string(s.port) + "\r\n") != std::string::npos);

  // PROPFIND: immediate children only, by name
  std::map<std::string, file_info> kids;
  REQUIRE(io.files("dir", [&](std::string_view n, const file_info& fi) { kids[std::string(n)] = fi; }, err));
  REQUIRE(kids.size() == 2);
  CHECK((!kids["x.txt"].is_dir && kids["x.txt"].size == 3));
  CHECK(kids["sub"].is_dir);
  CHECK_FALSE(io.files("", [](std::string_view, const file_info&) {}, err));
  CHECK(err == "notsupported");

  // read-only
  CHECK_FALSE(io.open("f.txt", "w", err));
  CHECK(err == "readonly");
  CHECK_FALSE(io.open("f.txt", "a", err));
  CHECK_FALSE(io.mkdir("d", err));
  CHECK_FALSE(io.remove("f.txt", err));
  CHECK_FALSE(io.rename("f.txt", "g.txt", err));
  CHECK(err == "readonly");

  // all of it over one kept-alive connection
  CHECK(s.accepted == 1);
}

TEST_CASE("net_io: connections closed by the server, a server that never answers") {
  std::atomic<int> mode{0};
  scripted_server s([&](const std::string& req, int) -> scripted_server::reply {
    if (request_line(req) == "HEAD /hang HTTP/1.1") return {"", false, true};
    auto r = ok(req.rfind("HEAD", 0) == 0 ? "" : "body");
    r.close = mode == 1;  // closes without saying so: the next request finds it gone
    if (mode == 3) r = ok("body");  // a body after a HEAD answer: that connection is not reused
    if (mode == 2) r.bytes = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    return r;
  });
  net_io io(s.url());
  std::string err;
  file_info i;
  mode = 1;
  REQUIRE(io.stat("a", i, err));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE_MESSAGE(io.stat("b", i, err), err);  // a new connection, once the kept-alive one failed
  CHECK(s.accepted == 2);
  mode = 2;
  REQUIRE(io.stat("c", i, err));
  REQUIRE(io.stat("d", i, err));  // "Connection: close" honoured: a new connection
  CHECK(s.accepted == 4);
  mode = 3;
  REQUIRE(io.stat("e", i, err));
  REQUIRE(io.stat("f", i, err));
  CHECK(s.accepted == 6);

  auto o = io.options();
  CHECK(o.timeout_ms == 10000);
  o.timeout_ms = 300;
  io.configure(o);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(io.stat("hang", i, err));
  CHECK(err == "timeout");
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= std::chrono::milliseconds(250));
  CHECK(took < std::chrono::seconds(3));
  mode = 0;
  CHECK(io.stat("after", i, err));  // the IO goes on with a new connection
}

TEST_CASE("net_io: the unrooted IO takes URLs; sub makes rooted ones") {
  scripted_server s([&](const std::string& req, int) -> scripted_server::reply {
    std::string line = request_line(req);
    if (line == "HEAD /x/y HTTP/1.1") return status(301, "Location: /x/y/\r\n");
    if (line == "HEAD /x/y/z.txt HTTP/1.1") return ok("");
    if (line == "HEAD /x/file HTTP/1.1") return ok("");
    return status(404);
  });
  net_io net;
  CHECK(net.base().empty());
  std::string err;
  file_info i;
  CHECK(net.stat(s.url("/x/y/z.txt"), i, err));
  CHECK_FALSE(net.stat("relative/name", i, err));
  CHECK(err == "invalidname");
  net_io x(s.url("/x/"));
  auto y = x.sub("y", err);
  REQUIRE(y);
  CHECK(y->base() == s.url("/x/y/"));
  CHECK(y->stat("z.txt", i, err));
  CHECK_FALSE(x.sub("file", err));  // a file is no root
  CHECK_FALSE(x.sub("none", err));
  CHECK(err == "notfound");
  auto z = net.sub(s.url("/x/y/"), err);  // a URL: nothing asked yet
  REQUIRE(z);
  CHECK(z->base() == s.url("/x/y/"));
  CHECK_FALSE(net.sub("nope", err));
  CHECK_THROWS_AS(net_io("ftp://host/"), std::invalid_argument);
  CHECK_THROWS_AS(net_io("http://user:pw@host/"), std::invalid_argument);
  net_io q("http://host:81/a?query#frag");
  CHECK(q.base() == "http://host:81/a/");
  net_io v6("https://[::1]:443/");
  CHECK(v6.base() == "https://[::1]/");
}
