// http/util.hpp and http/mime.hpp: target decoding, dates, ranges, entity tags, tokens.
#include <doctest.h>
#include <remora/http/message.hpp>
#include <remora/http/mime.hpp>
#include <remora/http/util.hpp>

#include <ctime>
#include <string>
#include <string_view>

using namespace remora::http;

namespace {
struct decoded {
  target_status status;
  std::string path;
  std::string query;
};
decoded decode(std::string_view t) {
  decoded d;
  std::string_view q;
  d.status = decode_target(t, d.path, q);
  d.query = std::string(q);
  return d;
}
}  // namespace

TEST_CASE("decode_target: origin-form") {
  auto d = decode("/index.html");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/index.html");
  CHECK(d.query.empty());

  d = decode("/");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/");

  d = decode("/a/b/c");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/a/b/c");
}

TEST_CASE("decode_target: query split, fragment dropped") {
  auto d = decode("/search?q=a%20b&x=1");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/search");
  CHECK(d.query == "q=a%20b&x=1");  // the query stays encoded

  d = decode("/page#section");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/page");
  CHECK(d.query.empty());

  d = decode("/page?a=1#frag?b=2");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/page");
  CHECK(d.query == "a=1");

  d = decode("/p?");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/p");
  CHECK(d.query.empty());

  // a '?' after percent-decoding is part of the path, not a query
  d = decode("/a%3fb");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/a?b");
  CHECK(d.query.empty());
}

TEST_CASE("decode_target: absolute-form") {
  auto d = decode("http://example.com/a/b?x=1");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/a/b");
  CHECK(d.query == "x=1");

  d = decode("https://example.com:8443/");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/");

  d = decode("http://example.com");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/");

  d = decode("http://example.com?x=1");  // empty path, with a query
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/");
  CHECK(d.query == "x=1");

  d = decode("http://example.com#top");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/");

  d = decode("http://example.com/../etc/passwd");
  CHECK(d.status == target_status::not_found);
}

TEST_CASE("decode_target: not a path") {
  CHECK(decode("").status == target_status::bad_request);
  CHECK(decode("*").status == target_status::bad_request);
  CHECK(decode("http:/x").status == target_status::bad_request);
  CHECK(decode("://x/").status == target_status::bad_request);
  CHECK(decode("1http://x/").status == target_status::bad_request);
  CHECK(decode("ht tp://x/").status == target_status::bad_request);
  CHECK(decode("index.html").status == target_status::bad_request);
}

TEST_CASE("decode_target: percent-decoding") {
  auto d = decode("/hello%20world/%41%62c");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/hello world/Abc");

  d = decode("/a+b");  // '+' is not a space in a path
  CHECK(d.path == "/a+b");

  d = decode("/100%25");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/100%");

  d = decode("/%e2%82%ac");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/\xe2\x82\xac");

  // an encoded slash separates segments like a literal one
  d = decode("/a%2fb");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/a/b");
}

TEST_CASE("decode_target: bad escapes") {
  CHECK(decode("/%zz").status == target_status::bad_request);
  CHECK(decode("/%4").status == target_status::bad_request);
  CHECK(decode("/a%").status == target_status::bad_request);
  CHECK(decode("/%g0").status == target_status::bad_request);
  CHECK(decode("/%0g/x").status == target_status::bad_request);
  // an escape in the query is not the path's business
  CHECK(decode("/a?%zz").status == target_status::ok);
}

TEST_CASE("decode_target: '.' and '//' collapse, trailing slash kept") {
  auto d = decode("/a/./b//c");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/a/b/c");

  d = decode("//a///b");
  CHECK(d.path == "/a/b");

  d = decode("/dir/");
  CHECK(d.path == "/dir/");

  d = decode("/dir//");
  CHECK(d.path == "/dir/");

  d = decode("/./");
  CHECK(d.path == "/");

  d = decode("/a/%2e/b");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/a/b");

  d = decode("/.hidden");  // a dot-file is a name, not a "." segment
  CHECK(d.path == "/.hidden");
  d = decode("/...");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/...");
  d = decode("/a..b/..c");
  CHECK(d.status == target_status::ok);
  CHECK(d.path == "/a..b/..c");
}

TEST_CASE("decode_target: '..' never reaches a directory") {
  CHECK(decode("/..").status == target_status::not_found);
  CHECK(decode("/../etc/passwd").status == target_status::not_found);
  CHECK(decode("/a/../b").status == target_status::not_found);
  CHECK(decode("/a/..").status == target_status::not_found);
  CHECK(decode("/a/../").status == target_status::not_found);
  CHECK(decode("/%2e%2e/x").status == target_status::not_found);
  CHECK(decode("/%2E%2e/x").status == target_status::not_found);
  CHECK(decode("/.%2e/x").status == target_status::not_found);
  CHECK(decode("/..%2fx").status == target_status::not_found);
  CHECK(decode("/a%2f..%2f..%2fetc").status == target_status::not_found);
  std::string path = "stale";
  std::string_view q;
  decode_target("/../x", path, q);
  CHECK(path.find("..") == std::string::npos);
}

TEST_CASE("decode_target: NUL") {
  CHECK(decode("/a%00b").status == target_status::not_found);
  CHECK(decode("/%00").status == target_status::not_found);
  CHECK(decode(std::string_view("/a\0b", 4)).status == target_status::not_found);
}

TEST_CASE("percent_decode") {
  std::string out;
  CHECK(percent_decode("a%20b+c", out));
  CHECK(out == "a b+c");
  CHECK(percent_decode("", out));
  CHECK(out.empty());
  CHECK(percent_decode("%41", out));
  CHECK(out == "A");
  CHECK_FALSE(percent_decode("%4", out));
  CHECK_FALSE(percent_decode("%", out));
  CHECK_FALSE(percent_decode("x%x1", out));
}

TEST_CASE("parse_date: the three forms") {
  const std::time_t expect = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  auto imf = parse_date("Sun, 06 Nov 1994 08:49:37 GMT");
  REQUIRE(imf);
  CHECK(*imf == expect);
  auto rfc850 = parse_date("Sunday, 06-Nov-94 08:49:37 GMT");
  REQUIRE(rfc850);
  CHECK(*rfc850 == expect);
  auto asc = parse_date("Sun Nov  6 08:49:37 1994");
  REQUIRE(asc);
  CHECK(*asc == expect);

  auto epoch = parse_date("Thu, 01 Jan 1970 00:00:00 GMT");
  REQUIRE(epoch);
  CHECK(*epoch == 0);
  auto y2k = parse_date("Sat, 01 Jan 2000 00:00:00 GMT");
  REQUIRE(y2k);
  CHECK(*y2k == 946684800);
  auto rfc850_2000s = parse_date("Saturday, 01-Jan-00 00:00:00 GMT");  // two-digit year < 70
  REQUIRE(rfc850_2000s);
  CHECK(*rfc850_2000s == 946684800);
}

TEST_CASE("parse_date: garbage") {
  CHECK_FALSE(parse_date(""));
  CHECK_FALSE(parse_date("yesterday"));
  CHECK_FALSE(parse_date("Sun, 06 Nov 1994 08:49:37"));          // no GMT
  CHECK_FALSE(parse_date("Sun, 06 Nov 1994 08:49:37 PST"));      // not GMT
  CHECK_FALSE(parse_date("Sun, 06 Foo 1994 08:49:37 GMT"));      // no such month
  CHECK_FALSE(parse_date("Sun, 32 Nov 1994 08:49:37 GMT"));      // day out of range
  CHECK_FALSE(parse_date("Sun, 06 Nov 1994 24:49:37 GMT"));      // hour out of range
  CHECK_FALSE(parse_date("Sun, 06 Nov 1994 08:60:37 GMT"));      // minute out of range
  CHECK_FALSE(parse_date("Sun, 06 Nov 1969 08:49:37 GMT"));      // before the epoch
  CHECK_FALSE(parse_date("Sun, 0x Nov 1994 08:49:37 GMT"));
  CHECK_FALSE(parse_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
  CHECK_FALSE(parse_date("Sun Nov  6 08:49:37 1994 extra"));
  CHECK_FALSE(parse_date("Sun, 06 Nov 19944 08:49:37 GMT"));
}

TEST_CASE("format_date and parse_date round trip") {
  CHECK(format_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(format_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  for (std::time_t t : {std::time_t(0), std::time_t(1), std::time_t(784111777), std::time_t(951782400),
                        std::time_t(1700000000), std::time_t(4102444800), std::time_t(253402300799)}) {
    auto s = format_date(t);
    CHECK(s.size() == 29);
    auto back = parse_date(s);
    REQUIRE(back);
    CHECK(*back == t);
  }
}

TEST_CASE("parse_range") {
  auto r = parse_range("bytes=0-9", 100);
  CHECK(r.kind == byte_range::ok);
  CHECK(r.first == 0);
  CHECK(r.last == 9);

  r = parse_range("bytes=5-", 100);
  CHECK(r.kind == byte_range::ok);
  CHECK(r.first == 5);
  CHECK(r.last == 99);

  r = parse_range("bytes=-5", 100);
  CHECK(r.kind == byte_range::ok);
  CHECK(r.first == 95);
  CHECK(r.last == 99);

  r = parse_range("bytes=-500", 100);  // a suffix longer than the whole: all of it
  CHECK(r.kind == byte_range::ok);
  CHECK(r.first == 0);
  CHECK(r.last == 99);

  r = parse_range("bytes=50-1000", 100);  // last beyond the end is clamped
  CHECK(r.kind == byte_range::ok);
  CHECK(r.first == 50);
  CHECK(r.last == 99);

  r = parse_range("Bytes= 1-1 ", 100);
  CHECK(r.kind == byte_range::ok);
  CHECK(r.first == 1);
  CHECK(r.last == 1);

  CHECK(parse_range("bytes=-0", 100).kind == byte_range::unsatisfiable);
  CHECK(parse_range("bytes=100-", 100).kind == byte_range::unsatisfiable);
  CHECK(parse_range("bytes=100-200", 100).kind == byte_range::unsatisfiable);
  CHECK(parse_range("bytes=0-1,5-6", 100).kind == byte_range::none);
  CHECK(parse_range("items=0-9", 100).kind == byte_range::none);
  CHECK(parse_range("bytes=abc", 100).kind == byte_range::none);
  CHECK(parse_range("bytes=9-0", 100).kind == byte_range::none);
  CHECK(parse_range("bytes=x-9", 100).kind == byte_range::none);
  CHECK(parse_range("bytes=0-x", 100).kind == byte_range::none);
  CHECK(parse_range("bytes=-", 100).kind == byte_range::none);
  CHECK(parse_range("bytes=--5", 100).kind == byte_range::none);
  CHECK(parse_range("bytes=", 100).kind == byte_range::none);
  CHECK(parse_range("", 100).kind == byte_range::none);
  CHECK(parse_range("bytes=99999999999999999999-", 100).kind == byte_range::none);  // too long

  // an empty representation has nothing to satisfy
  CHECK(parse_range("bytes=0-", 0).kind == byte_range::unsatisfiable);
  CHECK(parse_range("bytes=0-0", 0).kind == byte_range::unsatisfiable);
  CHECK(parse_range("bytes=-5", 0).kind == byte_range::unsatisfiable);
  CHECK(parse_range("bytes=0-0", 1).kind == byte_range::ok);
}

TEST_CASE("etag_matches") {
  CHECK(etag_matches("*", "\"abc\""));
  CHECK(etag_matches("\"abc\"", "\"abc\""));
  CHECK(etag_matches("\"x\", \"abc\"", "\"abc\""));
  CHECK(etag_matches("\"x\",\"y\" ,  \"abc\"  ", "\"abc\""));
  CHECK(etag_matches("W/\"abc\"", "\"abc\""));   // weak comparison
  CHECK(etag_matches("\"abc\"", "W/\"abc\""));
  CHECK(etag_matches("\"x\", *", "\"abc\""));
  CHECK_FALSE(etag_matches("\"abd\"", "\"abc\""));
  CHECK_FALSE(etag_matches("\"x\", \"y\"", "\"abc\""));
  CHECK_FALSE(etag_matches("", "\"abc\""));
  CHECK_FALSE(etag_matches(",,", "\"abc\""));
  CHECK_FALSE(etag_matches("\"ABC\"", "\"abc\""));  // entity tags are case-sensitive
}

TEST_CASE("has_token and iequals") {
  CHECK(has_token("keep-alive, Upgrade", "upgrade"));
  CHECK(has_token("gzip", "gzip"));
  CHECK(has_token("deflate,  GZIP ,br", "gzip"));
  CHECK_FALSE(has_token("gzipx, br", "gzip"));
  CHECK_FALSE(has_token("", "gzip"));
  CHECK_FALSE(has_token("x-gzip", "gzip"));

  CHECK(iequals("Content-Type", "content-type"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("abc", "abd"));
  CHECK_FALSE(iequals("abc", "abcd"));
  CHECK_FALSE(iequals("[", "{"));  // only letters fold
  CHECK_FALSE(iequals("@", "`"));
}

TEST_CASE("status_text") {
  CHECK(status_text(200) == "OK");
  CHECK(status_text(206) == "Partial Content");
  CHECK(status_text(302) == "Found");
  CHECK(status_text(304) == "Not Modified");
  CHECK(status_text(404) == "Not Found");
  CHECK(status_text(405) == "Method Not Allowed");
  CHECK(status_text(416) == "Range Not Satisfiable");
  CHECK(status_text(431) == "Request Header Fields Too Large");
  CHECK(status_text(503) == "Service Unavailable");
  CHECK(status_text(299) == "Unknown");
  CHECK(status_text(0) == "Unknown");
}

TEST_CASE("mime_type") {
  CHECK(mime_type("index.html") == "text/html; charset=utf-8");
  CHECK(mime_type("a.htm") == "text/html; charset=utf-8");
  CHECK(mime_type("style.css") == "text/css");
  CHECK(mime_type("app.js") == "text/javascript");
  CHECK(mime_type("data.json") == "application/json");
  CHECK(mime_type("img/logo.png") == "image/png");
  CHECK(mime_type("LOGO.PNG") == "image/png");
  CHECK(mime_type("x.Css") == "text/css");
  CHECK(mime_type("file.unknownext") == "application/octet-stream");
  CHECK(mime_type("README") == "application/octet-stream");
  CHECK(mime_type("") == "application/octet-stream");
  CHECK(mime_type("file.") == "application/octet-stream");
  CHECK(mime_type("v1.2/README") == "application/octet-stream");  // a dot in a directory only
  CHECK(mime_type("my.site/css.d/page.html") == "text/html; charset=utf-8");
  CHECK(mime_type("archive.tar.gz") == "application/gzip");
  CHECK(mime_type("x.jsx") == "application/octet-stream");  // no prefix matching
  CHECK(mime_type("x.j") == "application/octet-stream");
}

TEST_CASE("response: headers, error pages, redirects") {
  response res;
  res.set_header("X-A", "1");
  res.set_header("x-a", "2");
  CHECK(res.headers.size() == 1);
  CHECK(res.header("X-A") == "2");
  CHECK(res.header("missing").empty());

  res.error_page(404);
  CHECK(res.status == 404);
  CHECK(res.header("X-A").empty());
  CHECK(res.body.find("404 Not Found") != std::string::npos);
  CHECK(res.header("Content-Type") == "text/html");

  res.redirect(302, "/dir/?a=1");
  CHECK(res.status == 302);
  CHECK(res.header("Location") == "/dir/?a=1");

  // a Location never carries a raw control character (no header injection from a decoded path)
  res.redirect(302, "/a\r\nSet-Cookie: x=1/");
  auto loc = res.header("Location");
  CHECK(loc.find('\r') == std::string_view::npos);
  CHECK(loc.find('\n') == std::string_view::npos);
  CHECK(loc.find(' ') == std::string_view::npos);
  CHECK(loc == "/a%0D%0ASet-Cookie:%20x=1/");

  res.reset();
  CHECK(res.status == 200);
  CHECK(res.headers.empty());
  CHECK(res.body.empty());

  request req;
  req.headers.push_back({"Host", "x"});
  req.headers.push_back({"ACCEPT", "a"});
  req.headers.push_back({"accept", "b"});
  CHECK(req.header("accept") == "a");
  CHECK(req.has_header("host"));
  CHECK_FALSE(req.has_header("range"));
  CHECK(req.header("range").empty());
}

TEST_CASE("response: static header lines are overridden, never sent twice") {
  using remora::http::response;
  static constexpr std::string_view defaults = "A-One: 1\r\nB-Two: 2\r\nC-Three: 3\r\n";
  auto lines = [](const response& r) {
    std::string all;
    for (auto& [k, v] : r.headers) all += k + ": " + v + "\r\n";
    return all + std::string(r.head_block) + std::string(r.head_static);
  };
  response r;
  r.head_static = defaults;
  CHECK(r.header("b-two") == "2");
  r.set_header("A-One", "x");  // the first line: cut off, no copies
  CHECK(r.head_static == "B-Two: 2\r\nC-Three: 3\r\n");
  CHECK(r.headers.size() == 1);
  r.remove_header("c-three");  // the last line
  CHECK(r.head_static == "B-Two: 2\r\n");
  CHECK(lines(r) == "A-One: x\r\nB-Two: 2\r\n");

  response m;
  m.head_static = defaults;
  m.set_header("B-Two", "y");  // a middle line: the block moves into headers
  CHECK(m.head_static.empty());
  CHECK(lines(m) == "A-One: 1\r\nB-Two: y\r\nC-Three: 3\r\n");
  m.set_header("D-Four", "4");
  m.clear_headers();
  CHECK(lines(m).empty());

  response e;
  e.head_static = defaults;
  e.error_page(404);
  CHECK(e.head_static.empty());
  CHECK(e.header("A-One").empty());
}

TEST_CASE("cookie_value") {
  using remora::http::cookie_value;
  CHECK(cookie_value("a=1; b=2", "b") == "2");
  CHECK(cookie_value("a=1;b=2 ", "b") == "2");
  CHECK(cookie_value("a=\"q v\"; b=2", "a") == "q v");
  CHECK(cookie_value("aa=1; a=3", "a") == "3");
  CHECK(cookie_value("a=", "a") == "");
  CHECK_FALSE(cookie_value("a=1; b", "b"));
  CHECK_FALSE(cookie_value("", "a"));
  CHECK_FALSE(cookie_value("xa=1", "a"));
}
