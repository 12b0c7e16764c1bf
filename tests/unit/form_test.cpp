// Form data parsers: parse_form, multipart_boundary, multipart_parser.
#include <doctest.h>
#include <remora/http/form.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

using namespace remora::http;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

form_pairs form(std::string_view s, std::size_t max = 1024) {
  form_pairs out;
  parse_form(s, out, max);
  return out;
}

using pv = form_pairs::value_type;

// Records events as strings; adjacent data pieces are joined, so that the record does not
// depend on how the body was cut.
struct recorder : multipart_handler {
  std::vector<std::string> ev;
  std::vector<multipart_part> parts;
  std::size_t pieces = 0, largest_piece = 0;
  int stop_at_begin = -1;  // return false from the n-th on_part_begin
  bool on_part_begin(const multipart_part& p) override {
    std::string s = "begin name=" + p.name;
    if (p.has_filename) s += " filename=" + p.filename;
    if (!p.content_type.empty()) s += " type=" + p.content_type;
    if (!p.content_transfer_encoding.empty()) s += " cte=" + p.content_transfer_encoding;
    ev.push_back(s);
    parts.push_back(p);
    return stop_at_begin < 0 || static_cast<int>(parts.size()) != stop_at_begin;
  }
  bool on_part_data(std::string_view d) override {
    CHECK(!d.empty());
    ++pieces;
    if (d.size() > largest_piece) largest_piece = d.size();
    if (ev.empty() || ev.back().rfind("data:", 0) != 0) ev.push_back("data:");
    ev.back().append(d);
    return true;
  }
  bool on_part_end() override {
    ev.push_back("end");
    return true;
  }
  void on_error(std::string_view m) override { ev.push_back("error:" + std::string(m)); }
};

struct run_result {
  std::vector<std::string> ev;
  bool finished = false;
  std::string error;
};

// Feeds `body` cut at the given positions (ascending), then finishes.
run_result run(std::string_view boundary, std::string_view body, const std::vector<std::size_t>& cuts = {},
               multipart_limits limits = {}) {
  recorder r;
  multipart_parser p(boundary, r, limits);
  std::size_t at = 0;
  for (std::size_t c : cuts) {
    p.feed(body.substr(at, c - at));
    at = c;
  }
  p.feed(body.substr(at));
  run_result out;
  out.finished = p.finish();
  out.ev = std::move(r.ev);
  out.error = std::string(p.error());
  return out;
}

run_result run_bytewise(std::string_view boundary, std::string_view body, multipart_limits limits = {}) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
  return run(boundary, body, cuts, limits);
}

bool same(const run_result& a, const run_result& b) {
  return a.ev == b.ev && a.finished == b.finished && a.error == b.error;
}

const std::string sample =
    "This is the preamble.\r\n"
    "--AaB03x\r\n"
    "Content-Disposition: form-data; name=\"field1\"\r\n"
    "\r\n"
    "value one\r\n"
    "--AaB03x\r\n"
    "content-disposition: form-data; name=field2\r\n"
    "\r\n"
    "line1\r\nline2\r\n"
    "--AaB03x\r\n"
    "Content-Disposition: form-data; name=\"upload\"; filename=\"a b.txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "file \r\n--AaB03 contents \r\n--AaB03xy \r\r\n-- \r\n\r\n--AaB03x-z\r\n"
    "--AaB03x--\r\n"
    "epilogue\r\n--AaB03x\r\nContent-Disposition: form-data; name=\"ignored\"\r\n\r\nx";

const std::vector<std::string> sample_events = {
    "begin name=field1",
    "data:value one",
    "end",
    "begin name=field2",
    "data:line1\r\nline2",
    "end",
    "begin name=upload filename=a b.txt type=text/plain cte=binary",
    "data:file \r\n--AaB03 contents \r\n--AaB03xy \r\r\n-- \r\n\r\n--AaB03x-z",
    "end",
};

}  // namespace

// ---- parse_form --------------------------------------------------------------------------

TEST_CASE("parse_form: pairs in order, repeated names kept") {
  CHECK(form("a=1&b=2&a=3") == form_pairs{{"a", "1"}, {"b", "2"}, {"a", "3"}});
  CHECK(form("a=b=c") == form_pairs{{"a", "b=c"}});
  CHECK(form("").empty());
  CHECK(form("x") == form_pairs{{"x", ""}});
  CHECK(form("x=") == form_pairs{{"x", ""}});
  CHECK(form("=v") == form_pairs{{"", "v"}});
  CHECK(form("a=1;b=2") == form_pairs{{"a", "1;b=2"}});  // only '&' separates
}

TEST_CASE("parse_form: empty pairs skipped") {
  CHECK(form("&&a=1&&&b=2&") == form_pairs{{"a", "1"}, {"b", "2"}});
  CHECK(form("&").empty());
  CHECK(form("&&&").empty());
}

TEST_CASE("parse_form: '+' and %XX") {
  CHECK(form("q=a+b+c") == form_pairs{{"q", "a b c"}});
  CHECK(form("a+b=c+d") == form_pairs{{"a b", "c d"}});
  CHECK(form("q=a%20b%2Bc") == form_pairs{{"q", "a b+c"}});
  CHECK(form("%61%62=%3d%26") == form_pairs{{"ab", "=&"}});  // decoded '=' and '&' do not split
  CHECK(form("k=%e2%82%AC") == form_pairs{{"k", "\xe2\x82\xac"}});
  CHECK(form("k=%00x") == form_pairs{{"k", "\0x"s}});
}

TEST_CASE("parse_form: malformed escapes kept literally") {
  CHECK(form("a=%zz") == form_pairs{{"a", "%zz"}});
  CHECK(form("a=%") == form_pairs{{"a", "%"}});
  CHECK(form("a=%4") == form_pairs{{"a", "%4"}});
  CHECK(form("a=100%&b=%g1") == form_pairs{{"a", "100%"}, {"b", "%g1"}});
  CHECK(form("a=%%41") == form_pairs{{"a", "%A"}});
  CHECK(form("%=%2") == form_pairs{{"%", "%2"}});
  CHECK(form("a=%2541") == form_pairs{{"a", "%41"}});  // decoded once only
}

TEST_CASE("parse_form: bytes pass through") {
  CHECK(form("k=\xff\xfe&\xc3(=%FF") == form_pairs{{"k", "\xff\xfe"}, {"\xc3(", "\xff"}});
}

TEST_CASE("parse_form: appends, and the cap counts the whole output") {
  form_pairs out{{"q", "1"}};
  CHECK(parse_form("a=1&b=2", out));
  CHECK(out == form_pairs{{"q", "1"}, {"a", "1"}, {"b", "2"}});

  out.clear();
  CHECK(parse_form("a=1&b=2", out, 2));
  CHECK(out.size() == 2);
  CHECK_FALSE(parse_form("c=3", out, 2));  // shared with what is already there
  CHECK(out.size() == 2);
  CHECK(parse_form("&&", out, 2));  // nothing dropped

  out.clear();
  CHECK_FALSE(parse_form("a=1&b=2&c=3&d=4", out, 2));
  CHECK(out == form_pairs{{"a", "1"}, {"b", "2"}});

  out.clear();
  CHECK_FALSE(parse_form("a", out, 0));
  CHECK(out.empty());
  CHECK(parse_form("", out, 0));

  // The default cap.
  std::string many;
  for (int i = 0; i < 1100; ++i) many += "k=v&";
  out.clear();
  CHECK_FALSE(parse_form(many, out));
  CHECK(out.size() == 1024);
}

// ---- multipart_boundary --------------------------------------------------------------------

TEST_CASE("multipart_boundary: variants") {
  CHECK(multipart_boundary("multipart/form-data; boundary=AaB03x") == "AaB03x");
  CHECK(multipart_boundary("multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxk") ==
        "----WebKitFormBoundary7MA4YWxk");
  CHECK(multipart_boundary("Multipart/Form-Data; BOUNDARY=xyz") == "xyz");
  CHECK(multipart_boundary("multipart/form-data; boundary=\"a b:c=d\"") == "a b:c=d");
  CHECK(multipart_boundary(" multipart/form-data ;  boundary = abc ; charset=utf-8") == "abc");
  CHECK(multipart_boundary("multipart/form-data; charset=utf-8; boundary=x") == "x");
  CHECK(multipart_boundary("multipart/form-data; foo=\"a;boundary=bad\"; boundary=good") == "good");
  CHECK(multipart_boundary("multipart/form-data; boundary=first; boundary=second") == "first");
  CHECK(multipart_boundary("multipart/form-data; xboundary=no; boundary=yes") == "yes");
  CHECK(multipart_boundary("multipart/form-data; boundary=\"q\" trailing; x=1") == "q");
  const std::string longest = "multipart/form-data; boundary=" + std::string(70, 'b');
  CHECK(multipart_boundary(longest) == std::string(70, 'b'));
}

TEST_CASE("multipart_boundary: absent, other types, invalid") {
  CHECK(multipart_boundary("").empty());
  CHECK(multipart_boundary("multipart/form-data").empty());
  CHECK(multipart_boundary("multipart/form-data;").empty());
  CHECK(multipart_boundary("multipart/form-data; charset=utf-8").empty());
  CHECK(multipart_boundary("multipart/form-data; boundary").empty());
  CHECK(multipart_boundary("multipart/form-data; boundary=").empty());
  CHECK(multipart_boundary("multipart/form-data; boundary=\"\"").empty());
  CHECK(multipart_boundary("text/plain; boundary=x").empty());
  CHECK(multipart_boundary("multipart/mixed; boundary=x").empty());
  CHECK(multipart_boundary("multipart/form-datax; boundary=x").empty());
  CHECK(multipart_boundary("application/x-www-form-urlencoded").empty());
  const std::string too_long = "multipart/form-data; boundary=" + std::string(71, 'b');
  CHECK(multipart_boundary(too_long).empty());
  CHECK(multipart_boundary("multipart/form-data; boundary=\"unterminated").empty());
  CHECK(multipart_boundary("multipart/form-data; boundary=\"a\\\"b\"").empty());  // escape
  CHECK(multipart_boundary("multipart/form-data; boundary=\"ends with space \"").empty());
  CHECK(multipart_boundary("multipart/form-data; boundary=a\x01" "b").empty());
  CHECK(multipart_boundary("multipart/form-data; boundary=\"a\r\nb\"").empty());
  CHECK(multipart_boundary("multipart/form-data; boundary=\xc3\xa9").empty());
}

// ---- multipart_parser --------------------------------------------------------------------

TEST_CASE("multipart: two fields and a file") {
  recorder r;
  multipart_parser p("AaB03x", r);
  CHECK(p.feed(sample));
  CHECK(p.done());
  CHECK(p.finish());
  CHECK_FALSE(p.failed());
  CHECK(p.error().empty());
  CHECK(p.parts() == 3);
  CHECK(r.ev == sample_events);
  REQUIRE(r.parts.size() == 3);
  CHECK_FALSE(r.parts[0].has_filename);
  CHECK(r.parts[0].content_type.empty());  // no default made up
  CHECK(r.parts[0].headers == std::vector<std::pair<std::string, std::string>>{
                                  {"Content-Disposition", "form-data; name=\"field1\""}});
  CHECK(r.parts[1].headers.front().first == "content-disposition");
  CHECK(r.parts[2].has_filename);
  CHECK(r.parts[2].headers.size() == 3);
}

TEST_CASE("multipart: every cut gives the same events") {
  auto whole = run("AaB03x", sample);
  CHECK(whole.finished);
  CHECK(whole.ev == sample_events);
  CHECK(same(run_bytewise("AaB03x", sample), whole));
  for (std::size_t i = 0; i <= sample.size(); ++i) {
    CAPTURE(i);
    REQUIRE(same(run("AaB03x", sample, {i}), whole));
  }
  // Every pair of cuts in a smaller body.
  const std::string small =
      "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--\r\n-b\r\n--b-\r\n--b \r\n\r\n\r\n--b--";
  auto ref = run("b", small);
  CHECK(ref.finished);
  CHECK(ref.ev == std::vector<std::string>{"begin name=x", "data:1\r\n--\r\n-b\r\n--b-", "end", "begin name=",
                                           "end"});
  for (std::size_t i = 0; i <= small.size(); ++i)
    for (std::size_t j = i; j <= small.size(); ++j) {
      CAPTURE(i);
      CAPTURE(j);
      REQUIRE(same(run("b", small, {i, j}), ref));
    }
}

TEST_CASE("multipart: every cut gives the same error") {
  const std::string bodies[] = {
      "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nabc\r\n--b\nX",
      "--b\r\nNo colon here\r\n\r\nabc\r\n--b--",
      "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nabc\r\n--b  x\r\n",
      "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nabc\r\n--b\r\r\n",
      "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nabc\r\n--",
      "--b\r\nA: " + std::string(100, 'a') + "\r\n\r\n",
  };
  for (auto& body : bodies) {
    auto whole = run("b", body, {}, {64, 1000});
    CHECK_FALSE(whole.finished);
    CHECK(!whole.error.empty());
    for (std::size_t i = 0; i <= body.size(); ++i) {
      CAPTURE(i);
      REQUIRE(same(run("b", body, {i}, {64, 1000}), whole));
    }
    CHECK(same(run_bytewise("b", body, {64, 1000}), whole));
  }
}

TEST_CASE("multipart: boundary-like sequences in data") {
  const std::string datas[] = {
      "\r\n--boun", "\r\n--bound", "\r\n--boundar", "\r\n--boundaryX", "\r\n--boundary-x",
      "\r\n--boundary-", "--boundary\r\n", "x--boundary--", "\r", "\r\n", "\r\n-", "\r\n--",
      "\r\r\n\r\n--bou\r\n--boundar", "\r\n--boundar\r\n--boundary_", "\n--boundary\r\n",
      "a\r\n--boundary-\r\n--boundar", "\r\n\r\n\r\n",
  };
  for (auto& d : datas) {
    CAPTURE(d);
    std::string body = "--boundary\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" + d +
                       "\r\n--boundary--\r\n";
    auto whole = run("boundary", body);
    CHECK(whole.finished);
    CHECK(whole.ev == std::vector<std::string>{"begin name=f", "data:" + d, "end"});
    CHECK(same(run_bytewise("boundary", body), whole));
  }
}

TEST_CASE("multipart: data is streamed, only a possible delimiter is held back") {
  recorder r;
  multipart_parser p("bnd", r);
  CHECK(p.feed("--bnd\r\nContent-Disposition: form-data; name=f\r\n\r\nhello wor"));
  CHECK(r.ev == std::vector<std::string>{"begin name=f", "data:hello wor"});
  CHECK(p.feed("ld\r\n--bn"));
  CHECK(r.ev.back() == "data:hello world");  // "\r\n--bn" held back
  CHECK(p.feed("x"));
  CHECK(r.ev.back() == "data:hello world\r\n--bnx");  // released
  CHECK(p.feed("\r\n--bnd-"));
  CHECK(r.ev.back() == "data:hello world\r\n--bnx");
  CHECK(p.feed("-"));
  CHECK(r.ev.back() == "end");
  CHECK(p.done());
  CHECK(p.feed("anything at all"));  // epilogue
  CHECK(p.finish());

  // A large file in 4 KiB chunks: every piece is passed on without being gathered.
  recorder big;
  multipart_parser q("xyz", big);
  std::string payload;
  for (int i = 0; i < 300000; ++i) payload += static_cast<char>("ab\r\n-xyz"[i % 9]);
  std::string body = "--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big\"\r\n\r\n" + payload +
                     "\r\n--xyz--";
  for (std::size_t at = 0; at < body.size(); at += 4096) CHECK(q.feed(std::string_view(body).substr(at, 4096)));
  CHECK(q.finish());
  REQUIRE(big.ev.size() == 3);
  CHECK(big.ev[1] == "data:" + payload);
  CHECK(big.largest_piece <= 4096);
}

TEST_CASE("multipart: preamble, padding, empty parts, empty form") {
  auto r = run("b", "preamble --b\r\n--bX\r\nstill preamble\r\n--b \t \r\n\r\nv\r\n--b--");
  CHECK(r.finished);
  CHECK(r.ev == std::vector<std::string>{"begin name=", "data:v", "end"});

  r = run("b", "--b\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n--b\r\n\r\n\r\n--b--");
  CHECK(r.finished);
  CHECK(r.ev == std::vector<std::string>{"begin name=e", "end", "begin name=", "end"});

  r = run("b", "--b--\r\n");  // a browser's empty form
  CHECK(r.finished);
  CHECK(r.ev.empty());

  r = run("b", "--b--");
  CHECK(r.finished);

  // No CRLF before the delimiter: data, not a delimiter.
  r = run("b", "--b\r\n\r\nx--b\r\n--b--");
  CHECK(r.ev == std::vector<std::string>{"begin name=", "data:x--b", "end"});
}

TEST_CASE("multipart: Content-Disposition parameters") {
  recorder r;
  multipart_parser p("b", r);
  CHECK(p.feed("--b\r\n"
               "Content-Disposition: form-data; filename=\"C:\\\\dir\\\\a\\\"q\\\".txt\"; name=\"n;=x\"\r\n"
               "\r\n\r\n--b\r\n"
               "Content-Disposition: form-data; name=\"empty\"; filename=\"\"; filename*=UTF-8''x\r\n"
               "\r\n\r\n--b\r\n"
               "Content-Disposition:form-data;name=plain ; filename = \"na\xc3\xafve.txt\" junk\r\n"
               "\r\n\r\n--b\r\n"
               "Content-Disposition: form-data; NAME=\"first\"; name=\"second\"; filename*=UTF-8''y\r\n"
               "Content-Disposition: form-data; name=\"ignored\"\r\n"
               "Content-Type:   image/png  \r\n"
               "X-Folded: one\r\n"
               " two\r\n"
               "\tthree\r\n"
               "\r\n\r\n--b--"));
  CHECK(p.finish());
  REQUIRE(r.parts.size() == 4);
  CHECK(r.parts[0].name == "n;=x");
  CHECK(r.parts[0].filename == "C:\\dir\\a\"q\".txt");
  CHECK(r.parts[1].name == "empty");
  CHECK(r.parts[1].has_filename);
  CHECK(r.parts[1].filename.empty());
  CHECK(r.parts[2].name == "plain");
  CHECK(r.parts[2].filename == "na\xc3\xafve.txt");
  CHECK(r.parts[3].name == "first");
  CHECK_FALSE(r.parts[3].has_filename);
  CHECK(r.parts[3].content_type == "image/png");
  CHECK(r.parts[3].headers.size() == 4);
  CHECK(r.parts[3].headers[3] == std::pair<std::string, std::string>{"X-Folded", "one two three"});
}

TEST_CASE("multipart: errors") {
  auto expect_error = [](std::string_view boundary, std::string_view body, std::string_view message,
                         multipart_limits limits = {}) {
    CAPTURE(body);
    auto r = run(boundary, body, {}, limits);
    CHECK_FALSE(r.finished);
    CHECK(r.error == message);
    REQUIRE(!r.ev.empty());
    CHECK(r.ev.back() == "error:" + std::string(message));
    CHECK(same(run_bytewise(boundary, body, limits), r));
    return r;
  };
  const std::string cd = "Content-Disposition: form-data; name=x\r\n";
  // Truncated bodies, in every state.
  expect_error("b", "", "body ends before the closing boundary");
  expect_error("b", "only a preamble", "body ends before the closing boundary");
  expect_error("b", "--b", "body ends before the closing boundary");
  expect_error("b", "--b  ", "body ends before the closing boundary");
  expect_error("b", "--b\r", "body ends before the closing boundary");
  expect_error("b", "--b\r\n" + cd, "body ends before the closing boundary");
  auto r = expect_error("b", "--b\r\n" + cd + "\r\nabc\r\n--b-", "body ends before the closing boundary");
  CHECK(r.ev == std::vector<std::string>{"begin name=x", "data:abc", "error:body ends before the closing boundary"});
  // Malformed delimiter lines.
  expect_error("b", "--b\nx", "malformed boundary line: bare LF after the boundary");
  expect_error("b", "--b\r\n" + cd + "\r\nabc\r\n--b \n", "malformed boundary line: text after the boundary");
  expect_error("b", "--b\r\n" + cd + "\r\nabc\r\n--b\rx", "malformed boundary line: CR without LF");
  // Malformed headers.
  expect_error("b", "--b\r\nno colon\r\n\r\n--b--", "malformed part header: no field name");
  expect_error("b", "--b\r\n: empty name\r\n\r\n--b--", "malformed part header: no field name");
  expect_error("b", "--b\r\nBad Name: x\r\n\r\n--b--", "malformed part header: bad field name");
  expect_error("b", "--b\r\n folded first\r\n\r\n--b--", "malformed part header: continuation line first");
  expect_error("b", "--b\r\nA: 1\nB: 2\r\n\r\n--b--", "malformed part header: bare CR or LF, or NUL");
  expect_error("b", "--b\r\nA: 1\r\r\n\r\n--b--", "malformed part header: bare CR or LF, or NUL");
  expect_error("b", "--b\r\nA: \0\r\n\r\n--b--"sv, "malformed part header: bare CR or LF, or NUL");
  expect_error("b", "--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\n--b--",
               "malformed Content-Disposition: unterminated quoted string");
  // Limits.
  std::string block = "--b\r\n" + cd + "\r\n";  // the header block is cd + "\r\n": 42 bytes
  CHECK(run("b", block + "\r\n--b--", {}, {42, 10}).finished);
  r = expect_error("b", block + "\r\n--b--", "part header block too large", {41, 10});
  CHECK(r.ev.size() == 1);
  expect_error("b", "--b\r\n" + std::string(100000, 'h'), "part header block too large");
  std::string three = block + "1\r\n" + block + "2\r\n" + block + "3\r\n--b--";
  CHECK(run("b", three, {}, {8192, 3}).finished);
  r = expect_error("b", three, "too many parts", {8192, 2});
  CHECK(r.ev == std::vector<std::string>{"begin name=x", "data:1", "end", "begin name=x", "data:2", "end",
                                         "error:too many parts"});
  // Invalid boundaries.
  expect_error("", "--\r\n\r\n--", "invalid multipart boundary");
  expect_error(std::string(71, 'b'), "x", "invalid multipart boundary");
  expect_error("a\r\nb", "x", "invalid multipart boundary");
  CHECK(run(std::string(70, 'b'), "--" + std::string(70, 'b') + "--").finished);
}

TEST_CASE("multipart: after an error nothing more is reported") {
  recorder r;
  multipart_parser p("b", r);
  CHECK_FALSE(p.feed("--b\r\nbad\r\n\r\n"));
  CHECK(p.failed());
  CHECK_FALSE(p.feed("--b\r\n\r\nx\r\n--b--"));
  CHECK_FALSE(p.finish());
  CHECK_FALSE(p.finish());
  CHECK(r.ev == std::vector<std::string>{"error:malformed part header: no field name"});

  recorder s;
  multipart_parser q("b", s);
  CHECK(q.finish() == false);
  CHECK_FALSE(q.finish());
  CHECK(s.ev.size() == 1);
}

TEST_CASE("multipart: a handler can stop the parser") {
  recorder r;
  r.stop_at_begin = 2;
  multipart_parser p("b", r);
  CHECK_FALSE(p.feed("--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b--"));
  CHECK(p.error() == "stopped by the handler");
  CHECK(r.ev == std::vector<std::string>{"begin name=", "data:1", "end", "begin name=",
                                         "error:stopped by the handler"});
}
