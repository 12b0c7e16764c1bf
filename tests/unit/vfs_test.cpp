// vfs/directory.hpp and vfs/resrdr.hpp: the virtual directory tree, the resource reader over
// a disk directory, open_beneath.
#include <doctest.h>
#include "temp_dir.hpp"
#include <remora/http/util.hpp>
#include <remora/vfs/directory.hpp>
#include <remora/vfs/resrdr.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using remora::http::request;
using remora::http::response;

namespace {

// Answers with its name when `answer` is set; records what it was offered.
class probe final : public remora::vfs::directory {
 public:
  probe(std::string name, bool answer, std::vector<std::string>* log)
      : name_(std::move(name)), answer_(answer), log_(log) {}
  bool service(const request&, std::string_view rel, response& res) override {
    log_->push_back(name_ + ":" + std::string(rel));
    res.set_header("X-Touched", name_);  // must not leak into the next directory's answer
    if (!answer_) return false;
    res.status = 200;
    res.body = name_;
    return true;
  }

 private:
  std::string name_;
  bool answer_;
  std::vector<std::string>* log_;
};

request make_request(std::string path, std::string_view method = "GET") {
  request r;
  r.method = method;
  r.path = std::move(path);
  return r;
}


}  // namespace

TEST_CASE("tree: longer prefix first, then priority, then insertion order") {
  std::vector<std::string> log;
  remora::vfs::tree t;
  t.insert(std::make_shared<probe>("root", false, &log), "/", 0);
  t.insert(std::make_shared<probe>("app-low", false, &log), "/app/", -1);
  t.insert(std::make_shared<probe>("app-first", false, &log), "/app", 5);  // slash added
  t.insert(std::make_shared<probe>("app-second", false, &log), "app/", 5);
  t.insert(std::make_shared<probe>("deep", false, &log), "/app/sub/", -100);
  t.insert(std::make_shared<probe>("app-high", false, &log), "/app/", 10);
  CHECK(t.size() == 6);

  response res;
  CHECK_FALSE(t.dispatch(make_request("/app/sub/x.html"), res));
  CHECK(log == std::vector<std::string>{"deep:x.html", "app-high:sub/x.html", "app-first:sub/x.html",
                                        "app-second:sub/x.html", "app-low:sub/x.html",
                                        "root:app/sub/x.html"});
  CHECK(res.header("X-Touched").empty());  // a directory that falls through leaves nothing

  log.clear();
  CHECK_FALSE(t.dispatch(make_request("/other"), res));
  CHECK(log == std::vector<std::string>{"root:other"});

  log.clear();
  CHECK_FALSE(t.dispatch(make_request("/app/"), res));
  CHECK(log == std::vector<std::string>{"app-high:", "app-first:", "app-second:", "app-low:", "root:app/"});

  log.clear();
  CHECK_FALSE(t.dispatch(make_request("/application"), res));  // a prefix is a whole segment
  CHECK(log == std::vector<std::string>{"root:application"});
}

TEST_CASE("tree: fall-through to the next directory") {
  std::vector<std::string> log;
  remora::vfs::tree t;
  t.insert(std::make_shared<probe>("first", false, &log), "/", 2);
  t.insert(std::make_shared<probe>("second", true, &log), "/", 1);
  t.insert(std::make_shared<probe>("third", true, &log), "/", 0);
  response res;
  REQUIRE(t.dispatch(make_request("/x"), res));
  CHECK(res.content() == "second");
  CHECK(res.header("X-Touched") == "second");
  CHECK(log == std::vector<std::string>{"first:x", "second:x"});
}

TEST_CASE("tree: '/name' redirects to '/name/' with the query") {
  std::vector<std::string> log;
  remora::vfs::tree t;
  t.insert(std::make_shared<probe>("app", true, &log), "/app/", 0);
  t.insert(std::make_shared<probe>("a-b", true, &log), "/a/b/", 0);
  response res;
  auto req = make_request("/app");
  REQUIRE(t.dispatch(req, res));
  CHECK(res.status == 302);
  CHECK(res.header("Location") == "/app/");
  CHECK(log.empty());

  res.reset();
  req.query = "x=1&y=%20";
  REQUIRE(t.dispatch(req, res));
  CHECK(res.status == 302);
  CHECK(res.header("Location") == "/app/?x=1&y=%20");

  res.reset();
  REQUIRE(t.dispatch(make_request("/a/b"), res));
  CHECK(res.status == 302);
  CHECK(res.header("Location") == "/a/b/");

  res.reset();
  CHECK_FALSE(t.dispatch(make_request("/ap"), res));
  CHECK_FALSE(t.dispatch(make_request("/a"), res));
}

TEST_CASE("tree: remove") {
  std::vector<std::string> log;
  remora::vfs::tree t;
  auto a = std::make_shared<probe>("a", true, &log);
  auto b = std::make_shared<probe>("b", true, &log);
  t.insert(a, "/", 1);
  t.insert(a, "/x/", 1);
  t.insert(b, "/", 0);
  CHECK(t.size() == 3);
  CHECK(t.remove(a.get()));
  CHECK(t.size() == 1);
  CHECK_FALSE(t.remove(a.get()));
  response res;
  REQUIRE(t.dispatch(make_request("/x/y"), res));
  CHECK(res.content() == "b");
  CHECK(t.remove(b.get()));
  CHECK(t.size() == 0);
  CHECK_FALSE(t.dispatch(make_request("/x/y"), res));
}

namespace {
struct site {
  temp_dir dir;
  std::string big;
  remora::vfs::tree tree;
  std::shared_ptr<remora::vfs::disk_reader> reader;
  site() {
    dir.write("hello.txt", "Hello, world!");
    dir.write("style.css", "body{}");
    for (int i = 0; i < 5000; ++i) big += "0123456789abcdef"[i % 16];
    big += std::string(30000, 'z');  // > 16 KiB: goes out as a file part
    dir.write("big.bin", big);
    dir.write("both/index.html", "html index");
    dir.write("both/index.htm", "htm index");
    dir.write("htm/index.htm", "htm only");
    dir.write("empty/.keep", "");
    dir.write(".secret", "hidden");
    dir.write(".git/config", "hidden");
    dir.write("sub/.hidden/x.txt", "hidden");
    dir.write("page.lsp", "<?lsp print(1) ?>");
    dir.write("inc.shtml", "<!--#include-->");
    dir.write("zero.txt", "");
    reader = std::make_shared<remora::vfs::disk_reader>(dir.path.string());
    tree.insert(reader, "/", 0);
  }
  response get(std::string path, std::vector<remora::http::header_field> headers = {},
               std::string_view method = "GET", bool* answered = nullptr) {
    auto req = make_request(std::move(path), method);
    req.headers = std::move(headers);
    response res;
    bool ok = tree.dispatch(req, res);
    if (answered) *answered = ok;
    if (!ok) res.error_page(404);
    return res;
  }
};
std::string file_part(const response& res) {
  std::string out(std::size_t(res.file_length), '\0');
  auto n = ::pread(res.file.get(), out.data(), out.size(), off_t(res.file_offset));
  REQUIRE(n == ssize_t(out.size()));
  return out;
}
}  // namespace

TEST_CASE("disk_reader: a small file") {
  site s;
  auto res = s.get("/hello.txt");
  CHECK(res.status == 200);
  CHECK(res.content() == "Hello, world!");
  CHECK_FALSE(res.file);
  CHECK(res.header("Content-Type") == "text/plain");
  CHECK_FALSE(res.header("ETag").empty());
  CHECK(res.header("ETag").front() == '"');
  struct stat st;
  REQUIRE(::stat((s.dir.path / "hello.txt").c_str(), &st) == 0);
  CHECK(res.header("Last-Modified") == remora::http::format_date(st.st_mtime));
  CHECK(res.header("Accept-Ranges") == "bytes");

  // Again (from the cache): the same answer.
  auto again = s.get("/hello.txt");
  CHECK(again.status == 200);
  CHECK(again.content() == "Hello, world!");
  CHECK(again.header("ETag") == res.header("ETag"));
  CHECK(again.header("Content-Type") == "text/plain");

  CHECK(s.get("/style.css").header("Content-Type") == "text/css");
  auto z = s.get("/zero.txt");
  CHECK(z.status == 200);
  CHECK(z.content().empty());

  CHECK(s.get("/missing.txt").status == 404);
  CHECK(s.get("/hello.txt/").status == 404);  // a file is not a directory
}

TEST_CASE("disk_reader: a large file goes out as a file part") {
  site s;
  auto res = s.get("/big.bin");
  CHECK(res.status == 200);
  CHECK(res.content().empty());
  REQUIRE(res.file);
  CHECK(res.file_offset == 0);
  CHECK(res.file_length == s.big.size());
  CHECK(file_part(res) == s.big);
  CHECK(res.header("Content-Type") == "application/octet-stream");

  auto r = s.get("/big.bin", {{"Range", "bytes=100-"}});
  CHECK(r.status == 206);
  REQUIRE(r.file);
  CHECK(r.file_offset == 100);
  CHECK(r.file_length == s.big.size() - 100);
  CHECK(file_part(r) == s.big.substr(100));
  CHECK(r.header("Content-Range") == "bytes 100-" + std::to_string(s.big.size() - 1) + "/" +
                                         std::to_string(s.big.size()));

  auto small = s.get("/big.bin", {{"Range", "bytes=16-31"}});  // a small slice is read inline
  CHECK(small.status == 206);
  CHECK(small.content() == s.big.substr(16, 16));
  CHECK(small.header("Content-Range") == "bytes 16-31/" + std::to_string(s.big.size()));

  auto tail = s.get("/big.bin", {{"Range", "bytes=-10"}});
  CHECK(tail.status == 206);
  CHECK(tail.content() == std::string(10, 'z'));

  auto bad = s.get("/big.bin", {{"Range", "bytes=99999999-"}});
  CHECK(bad.status == 416);
  CHECK(bad.header("Content-Range") == "bytes */" + std::to_string(s.big.size()));
}

TEST_CASE("disk_reader: index files and directory redirects") {
  site s;
  auto res = s.get("/both/");
  CHECK(res.status == 200);
  CHECK(res.content() == "html index");  // index.html before index.htm
  CHECK(res.header("Content-Type") == "text/html; charset=utf-8");

  res = s.get("/htm/");
  CHECK(res.status == 200);
  CHECK(res.content() == "htm only");

  res = s.get("/both");
  CHECK(res.status == 302);
  CHECK(res.header("Location") == "/both/");

  auto req = make_request("/htm");
  req.query = "a=1";
  response r;
  REQUIRE(s.tree.dispatch(req, r));
  CHECK(r.status == 302);
  CHECK(r.header("Location") == "/htm/?a=1");

  bool answered = true;
  s.get("/empty/", {}, "GET", &answered);  // a directory without an index
  CHECK_FALSE(answered);
}

TEST_CASE("disk_reader: names that are never served") {
  site s;
  bool answered = true;
  for (const char* p : {"/.secret", "/.git/config", "/.git/", "/sub/.hidden/x.txt", "/page.lsp", "/inc.shtml",
                        "/empty/.keep"}) {
    answered = true;
    auto res = s.get(p, {}, "GET", &answered);
    CAPTURE(p);
    CHECK_FALSE(answered);
    CHECK(res.status == 404);
  }
}

TEST_CASE("disk_reader: methods") {
  site s;
  auto res = s.get("/hello.txt", {}, "POST");
  CHECK(res.status == 405);
  CHECK(res.header("Allow") == "GET, HEAD");
  res = s.get("/big.bin", {}, "DELETE");
  CHECK(res.status == 405);
  CHECK(res.header("Allow") == "GET, HEAD");
  // Cached files too.
  s.get("/style.css");
  res = s.get("/style.css", {}, "PUT");
  CHECK(res.status == 405);
  res = s.get("/hello.txt", {}, "HEAD");
  CHECK(res.status == 200);
  CHECK(res.header("Content-Type") == "text/plain");
}

TEST_CASE("disk_reader: conditional requests") {
  site s;
  for (const char* p : {"/hello.txt", "/big.bin"}) {
    CAPTURE(p);
    auto first = s.get(p);
    REQUIRE(first.status == 200);
    std::string etag(first.header("ETag")), lm(first.header("Last-Modified"));

    auto r = s.get(p, {{"If-None-Match", etag}});
    CHECK(r.status == 304);
    CHECK(r.content().empty());
    CHECK_FALSE(r.file);
    CHECK(r.header("ETag") == etag);

    r = s.get(p, {{"If-None-Match", "\"other\", " + etag}});
    CHECK(r.status == 304);
    r = s.get(p, {{"If-None-Match", "W/" + etag}});
    CHECK(r.status == 304);
    r = s.get(p, {{"If-None-Match", "\"other\""}});
    CHECK(r.status == 200);

    r = s.get(p, {{"If-Modified-Since", lm}});
    CHECK(r.status == 304);
    r = s.get(p, {{"If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"}});
    CHECK(r.status == 200);
    r = s.get(p, {{"If-Modified-Since", "not a date"}});
    CHECK(r.status == 200);
    // If-None-Match wins over If-Modified-Since.
    r = s.get(p, {{"If-None-Match", "\"other\""}, {"If-Modified-Since", lm}});
    CHECK(r.status == 200);
  }
}

TEST_CASE("disk_reader: ranges on a small file") {
  site s;
  auto r = s.get("/hello.txt", {{"Range", "bytes=0-4"}});
  CHECK(r.status == 206);
  CHECK(r.content() == "Hello");
  CHECK(r.header("Content-Range") == "bytes 0-4/13");
  r = s.get("/hello.txt", {{"Range", "bytes=7-"}});
  CHECK(r.status == 206);
  CHECK(r.content() == "world!");
  r = s.get("/hello.txt", {{"Range", "bytes=13-"}});
  CHECK(r.status == 416);
  CHECK(r.header("Content-Range") == "bytes */13");
  r = s.get("/hello.txt", {{"Range", "bytes=0-1,3-4"}});  // several: the whole
  CHECK(r.status == 200);
  CHECK(r.content() == "Hello, world!");
  // If-Range that does not match: the whole.
  r = s.get("/hello.txt", {{"Range", "bytes=0-4"}, {"If-Range", "\"stale\""}});
  CHECK(r.status == 200);
  CHECK(r.content() == "Hello, world!");
}

TEST_CASE("disk_reader and open_beneath: symlinks") {
  site s;
  temp_dir outside;
  outside.write("secret.txt", "outside secret");
  fs::create_symlink(outside.path / "secret.txt", s.dir.path / "abs-escape.txt");
  fs::create_symlink("../" + outside.path.filename().string() + "/secret.txt", s.dir.path / "rel-escape.txt");
  fs::create_directory_symlink(outside.path, s.dir.path / "dir-escape");
  fs::create_symlink("hello.txt", s.dir.path / "inside.txt");
  fs::create_symlink(s.dir.path / "hello.txt", s.dir.path / "abs-inside.txt");
  fs::create_directory_symlink("both", s.dir.path / "both-link");

  for (const char* p : {"/abs-escape.txt", "/rel-escape.txt", "/dir-escape/secret.txt", "/dir-escape/"}) {
    CAPTURE(p);
    bool answered = true;
    auto res = s.get(p, {}, "GET", &answered);
    CHECK_FALSE(answered);
    CHECK(res.content().find("outside secret") == std::string::npos);
  }
  auto in = s.get("/inside.txt");
  CHECK(in.status == 200);
  CHECK(in.content() == "Hello, world!");
  auto abs_in = s.get("/abs-inside.txt");
  CHECK(abs_in.status == 200);
  CHECK(abs_in.content() == "Hello, world!");
  auto dir_in = s.get("/both-link/index.html");
  CHECK(dir_in.status == 200);
  CHECK(dir_in.content() == "html index");

  int root = ::open(s.dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(root >= 0);
  using remora::vfs::open_beneath;
  CHECK(open_beneath(root, "hello.txt", O_RDONLY));
  CHECK(open_beneath(root, "both/../hello.txt", O_RDONLY));  // stays beneath
  CHECK(open_beneath(root, "", O_RDONLY | O_DIRECTORY));
  CHECK_FALSE(open_beneath(root, "../" + outside.path.filename().string() + "/secret.txt", O_RDONLY));
  CHECK_FALSE(open_beneath(root, "../x", O_RDONLY));
  CHECK_FALSE(open_beneath(root, "..", O_RDONLY | O_DIRECTORY));
  CHECK_FALSE(open_beneath(root, (outside.path / "secret.txt").string(), O_RDONLY));
  CHECK_FALSE(open_beneath(root, "abs-escape.txt", O_RDONLY));
  CHECK_FALSE(open_beneath(root, "rel-escape.txt", O_RDONLY));
  CHECK_FALSE(open_beneath(root, "dir-escape/secret.txt", O_RDONLY));
  CHECK(open_beneath(root, "inside.txt", O_RDONLY));
  CHECK(open_beneath(root, "abs-inside.txt", O_RDONLY));
  CHECK_FALSE(open_beneath(root, "missing", O_RDONLY));
  ::close(root);
}

TEST_CASE("disk_reader: a root that is not a directory") {
  CHECK_THROWS_AS(remora::vfs::disk_reader("/nonexistent/remora/root"), std::system_error);
}
