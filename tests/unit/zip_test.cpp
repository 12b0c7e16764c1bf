// ZIP reader: archives made at test time by Info-ZIP's zip, by Python's zipfile, and (for what
// neither can make: zstd, ZIP64 central records, hostile names, odd methods) by the small
// writer below; then read back through file and memory sources.
#include <remora/zip/archive.hpp>

#include <doctest.h>

#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <utility>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

namespace zip = remora::zip;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/remora_zip_test_XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path = p;
  }
  ~temp_dir() {
    if (std::system(("rm -rf '" + path + "'").c_str()) != 0) std::fprintf(stderr, "cannot remove %s\n", path.c_str());
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

void write_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  REQUIRE(f.good());
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  INFO(cmd);
  REQUIRE(rc != -1);
  REQUIRE(WIFEXITED(rc));
  REQUIRE(WEXITSTATUS(rc) == 0);
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

std::time_t utc(int y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s) {
  struct tm t {};
  t.tm_year = y - 1900;
  t.tm_mon = static_cast<int>(mo) - 1;
  t.tm_mday = static_cast<int>(d);
  t.tm_hour = static_cast<int>(h);
  t.tm_min = static_cast<int>(mi);
  t.tm_sec = static_cast<int>(s);
  return ::timegm(&t);
}

// The source tree the archivers are pointed at: relative path -> contents.
using tree = std::map<std::string, std::string>;

tree make_tree(const std::string& root) {
  tree t;
  std::string hello;
  for (int i = 0; i < 200; ++i) hello += "Hello, Remora! line " + std::to_string(i % 7) + "\n";
  t["hello.txt"] = hello;
  t["empty.txt"] = "";
  t["random.bin"] = random_bytes(1 << 20, 42);
  t["sub/dir/nested.txt"] = "nested\n";
  std::string lua;
  for (int i = 0; i < 50; ++i) lua += "return 1\n";
  t["sub/other.lua"] = lua;
  run("mkdir -p '" + root + "/sub/dir' '" + root + "/emptydir'");
  for (const auto& [name, data] : t) write_file(root + "/" + name, data);
  // A known modification time for hello.txt (Info-ZIP records it exactly in its UT field).
  struct ::utimbuf ut {1600000000, 1600000000};
  REQUIRE(::utime((root + "/hello.txt").c_str(), &ut) == 0);
  return t;
}

std::unique_ptr<zip::archive> open_file(const std::string& path) {
  std::string err;
  auto src = zip::file_source(path, err);
  INFO(err);
  REQUIRE(src);
  auto a = zip::archive::open(src, err);
  INFO(err);
  REQUIRE(a);
  return a;
}

std::string read_entry(const zip::archive& a, std::string_view name) {
  const zip::entry* e = a.find(name);
  INFO(std::string(name));
  REQUIRE(e != nullptr);
  std::string out, err;
  const bool ok = a.read(*e, out, err);
  INFO(err);
  REQUIRE(ok);
  return out;
}

// Everything through open_reader, `chunk` bytes at a time; false (and err) on failure.
bool stream_entry(const zip::archive& a, const zip::entry& e, std::size_t chunk, std::string& out, std::string& err) {
  out.clear();
  auto r = a.open_reader(e, err);
  if (!r) return false;
  std::vector<char> buf(chunk);
  for (;;) {
    const std::ptrdiff_t k = r->read(buf.data(), chunk, err);
    if (k < 0) return false;
    if (k == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(k));
  }
  // The end is sticky.
  return r->read(buf.data(), chunk, err) == 0;
}

// Every file of `t` is in `a`, byte-identical through read and through the streaming reader.
void check_contents(const zip::archive& a, const tree& t) {
  for (const auto& [name, data] : t) {
    INFO(name);
    const std::string got = read_entry(a, name);
    const bool same = got == data;
    CHECK(same);
    const zip::entry* e = a.find(name);
    REQUIRE(e != nullptr);
    CHECK(e->size == data.size());
    CHECK_FALSE(e->is_dir());
    std::string streamed, err;
    CHECK(stream_entry(a, *e, 4093, streamed, err));
    const bool same_streamed = streamed == data;
    CHECK(same_streamed);
  }
}

using listing = std::vector<std::pair<std::string, bool>>;
listing list_of(const zip::archive& a, std::string_view dir, std::vector<const zip::entry*>* entries = nullptr) {
  listing out;
  a.list(dir, [&](std::string_view name, bool is_dir, const zip::entry* e) {
    out.emplace_back(std::string(name), is_dir);
    if (entries) entries->push_back(e);
  });
  return out;
}

// Offset of the central directory record naming `name` (the tests patch fields in it).
std::size_t central_of(const std::string& z, const std::string& name) {
  for (std::size_t p = z.find("PK\x01\x02"); p != std::string::npos; p = z.find("PK\x01\x02", p + 1)) {
    const auto n = static_cast<std::size_t>(static_cast<unsigned char>(z[p + 28]) |
                                            (static_cast<unsigned char>(z[p + 29]) << 8));
    if (z.compare(p + 46, n, name) == 0 && n == name.size()) return p;
  }
  FAIL("no central record for " << name);
  return 0;
}
std::size_t local_of(const std::string& z, std::size_t central) {
  std::size_t off = 0;
  for (int i = 3; i >= 0; --i) off = off << 8 | static_cast<unsigned char>(z[central + 42 + static_cast<std::size_t>(i)]);
  return off;
}
void put32_at(std::string& z, std::size_t p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) z[p + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint32_t get32_at(const std::string& z, std::size_t p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(z[p + static_cast<std::size_t>(i)]);
  return v;
}

// ---- a minimal ZIP writer for what the tools cannot make ----------------------------------
struct raw_entry {
  std::string name;
  std::uint16_t method = zip::stored;
  std::string data;  // as stored in the archive (compressed)
  std::uint32_t crc = 0;
  std::uint64_t size = 0;
  std::uint16_t flags = 0;
};

std::uint32_t crc_of(const std::string& s) {
  return static_cast<std::uint32_t>(::crc32_z(0, reinterpret_cast<const Bytef*>(s.data()), s.size()));
}
raw_entry stored_entry(std::string name, const std::string& content) {
  return {std::move(name), zip::stored, content, crc_of(content), content.size(), 0};
}
raw_entry zstd_entry(std::string name, const std::string& content, int level = 3) {
  std::string c(::ZSTD_compressBound(content.size()), '\0');
  const std::size_t n = ::ZSTD_compress(c.data(), c.size(), content.data(), content.size(), level);
  REQUIRE_FALSE(::ZSTD_isError(n));
  c.resize(n);
  return {std::move(name), zip::zstd, c, crc_of(content), content.size(), 0};
}

void put16(std::string& s, std::uint64_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>((v >> 8) & 0xff);
}
void put32(std::string& s, std::uint64_t v) {
  put16(s, v & 0xffff);
  put16(s, (v >> 16) & 0xffff);
}
void put64(std::string& s, std::uint64_t v) {
  put32(s, v & 0xffffffffu);
  put32(s, v >> 32);
}

constexpr std::uint16_t dos_time = (12 << 11) | (34 << 5) | (56 / 2);  // 12:34:56
constexpr std::uint16_t dos_date = ((2022 - 1980) << 9) | (6 << 5) | 15;  // 2022-06-15

// With zip64, every size and offset goes through ZIP64 extra fields and end records.
std::string make_zip(const std::vector<raw_entry>& entries, bool zip64 = false) {
  std::string z, cd;
  for (const raw_entry& e : entries) {
    const std::uint64_t off = z.size();
    put32(z, 0x04034b50);
    put16(z, zip64 ? 45 : 20);
    put16(z, e.flags);
    put16(z, e.method);
    put16(z, dos_time);
    put16(z, dos_date);
    put32(z, e.crc);
    put32(z, zip64 ? 0xffffffffu : e.data.size());
    put32(z, zip64 ? 0xffffffffu : e.size);
    put16(z, e.name.size());
    put16(z, zip64 ? 20 : 0);
    z += e.name;
    if (zip64) {
      put16(z, 1);
      put16(z, 16);
      put64(z, e.size);
      put64(z, e.data.size());
    }
    z += e.data;

    put32(cd, 0x02014b50);
    put16(cd, 0x031e);
    put16(cd, zip64 ? 45 : 20);
    put16(cd, e.flags);
    put16(cd, e.method);
    put16(cd, dos_time);
    put16(cd, dos_date);
    put32(cd, e.crc);
    put32(cd, zip64 ? 0xffffffffu : e.data.size());
    put32(cd, zip64 ? 0xffffffffu : e.size);
    put16(cd, e.name.size());
    put16(cd, zip64 ? 28 : 0);
    put16(cd, 0);  // comment
    put16(cd, 0);  // disk
    put16(cd, 0);  // internal attributes
    put32(cd, 0);  // external attributes
    put32(cd, zip64 ? 0xffffffffu : off);
    cd += e.name;
    if (zip64) {
      put16(cd, 1);
      put16(cd, 24);
      put64(cd, e.size);
      put64(cd, e.data.size());
      put64(cd, off);
    }
  }
  const std::uint64_t cd_off = z.size();
  z += cd;
  if (zip64) {
    const std::uint64_t e64 = z.size();
    put32(z, 0x06064b50);
    put64(z, 44);
    put16(z, 45);
    put16(z, 45);
    put32(z, 0);
    put32(z, 0);
    put64(z, entries.size());
    put64(z, entries.size());
    put64(z, cd.size());
    put64(z, cd_off);
    put32(z, 0x07064b50);
    put32(z, 0);
    put64(z, e64);
    put32(z, 1);
  }
  put32(z, 0x06054b50);
  put16(z, 0);
  put16(z, 0);
  put16(z, zip64 ? 0xffff : entries.size());
  put16(z, zip64 ? 0xffff : entries.size());
  put32(z, zip64 ? 0xffffffffu : cd.size());
  put32(z, zip64 ? 0xffffffffu : cd_off);
  put16(z, 0);
  return z;
}

std::unique_ptr<zip::archive> open_mem(const std::string& bytes, std::string& err) {
  return zip::archive::open(zip::memory_source(bytes.data(), bytes.size()), err);
}

const char* const py_archive = R"PY(
import os, sys, zipfile
src, out, mode = sys.argv[1:4]
if mode == 'pipe':
    # stdout is a pipe: zipfile cannot seek back, so it writes data descriptors (flag bit 3)
    zf = zipfile.ZipFile(sys.stdout.buffer, 'w', zipfile.ZIP_DEFLATED)
else:
    zf = zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED if mode == 'stored' else zipfile.ZIP_DEFLATED)
for root, dirs, files in os.walk(src):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(root, f)
        zf.write(p, os.path.relpath(p, src))
zf.writestr(zipfile.ZipInfo('dated.txt', date_time=(2021, 3, 4, 5, 6, 8)), b'dated')
zf.close()
)PY";

const char* const py_zip64 = R"PY(
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as zf:
    for i in range(65536):
        zf.writestr('many/%d' % i, str(i))
    with zf.open('forced.txt', 'w', force_zip64=True) as f:
        f.write(b'forced zip64 ' * 1000)
)PY";

}  // namespace

TEST_CASE("zip: Info-ZIP deflated and stored archives read back byte-identical") {
  temp_dir tmp;
  const tree t = make_tree(tmp.path + "/src");
  for (const std::string flag : {"-9", "-0"}) {
    CAPTURE(flag);
    const std::string path = tmp.path + "/a" + flag + ".zip";
    run("cd '" + tmp.path + "/src' && zip -q -r " + flag + " '" + path + "' .");
    auto a = open_file(path);
    CHECK(a->warnings().empty());
    check_contents(*a, t);

    // Methods: -0 stores everything; -9 deflates what compresses.
    if (flag == "-0") {
      for (const zip::entry& e : a->entries()) CHECK(e.method == zip::stored);
    } else {
      CHECK(a->find("hello.txt")->method == zip::deflated);
      CHECK(a->find("hello.txt")->compressed_size < a->find("hello.txt")->size);
    }

    // Explicit directory entries ("sub/", "emptydir/"), sorted children.
    std::vector<const zip::entry*> es;
    const listing root = list_of(*a, "", &es);
    const listing want_root{{"empty.txt", false}, {"emptydir", true}, {"hello.txt", false},
                            {"random.bin", false}, {"sub", true}};
    CHECK(root == want_root);
    REQUIRE(es.size() == 5);
    REQUIRE(es[1] != nullptr);
    CHECK(es[1]->name == "emptydir/");
    CHECK(es[1]->is_dir());
    CHECK(es[2] == a->find("hello.txt"));
    CHECK(list_of(*a, "sub") == listing{{"dir", true}, {"other.lua", false}});
    CHECK(list_of(*a, "sub/") == listing{{"dir", true}, {"other.lua", false}});
    CHECK(list_of(*a, "sub/dir") == listing{{"nested.txt", false}});
    CHECK(list_of(*a, "emptydir").empty());
    CHECK(list_of(*a, "hello.txt").empty());
    CHECK(list_of(*a, "nope").empty());

    CHECK(a->is_dir(""));
    CHECK(a->is_dir("sub"));
    CHECK(a->is_dir("sub/"));
    CHECK(a->is_dir("sub/dir"));
    CHECK(a->is_dir("emptydir"));
    CHECK_FALSE(a->is_dir("hello.txt"));
    CHECK_FALSE(a->is_dir("sub/dir/nested.txt"));
    CHECK_FALSE(a->is_dir("nope"));
    CHECK_FALSE(a->is_dir("sub//dir"));
    CHECK_FALSE(a->is_dir("/sub"));
    CHECK(a->find("sub/") != nullptr);
    CHECK(a->find("sub") == nullptr);
    CHECK(a->find("/hello.txt") == nullptr);
    CHECK(a->find("hello.tx") == nullptr);
    CHECK(a->find("") == nullptr);

    // Info-ZIP's extended timestamp gives the file's mtime exactly.
    CHECK(a->find("hello.txt")->mtime == 1600000000);
    struct ::stat st {};
    REQUIRE(::stat((tmp.path + "/src/random.bin").c_str(), &st) == 0);
    const std::time_t d = a->find("random.bin")->mtime - st.st_mtime;
    CHECK(d >= -2);
    CHECK(d <= 2);
  }
}

TEST_CASE("zip: Python zipfile archives, implied directories, DOS times, data descriptors") {
  temp_dir tmp;
  tree t = make_tree(tmp.path + "/src");
  write_file(tmp.path + "/mk.py", py_archive);
  for (const std::string mode : {"stored", "deflated", "pipe"}) {
    CAPTURE(mode);
    const std::string path = tmp.path + "/" + mode + ".zip";
    const std::string cmd = "/usr/bin/python3 '" + tmp.path + "/mk.py' '" + tmp.path + "/src' '" + path + "' " + mode;
    run(mode == "pipe" ? cmd + " | cat > '" + path + "'" : cmd);
    auto a = open_file(path);
    CHECK(a->warnings().empty());
    check_contents(*a, t);
    CHECK(read_entry(*a, "dated.txt") == "dated");
    CHECK(a->entry_count() == t.size() + 1);
    for (const zip::entry& e : a->entries()) {
      // (dated.txt is written from a ZipInfo, whose own default is ZIP_STORED)
      if (e.name != "dated.txt") CHECK(e.method == (mode == "stored" ? zip::stored : zip::deflated));
      CHECK(((e.flags & 8) != 0) == (mode == "pipe"));
    }

    // No directory entries: every directory is implied.
    std::vector<const zip::entry*> es;
    CHECK(list_of(*a, "", &es) == listing{{"dated.txt", false}, {"empty.txt", false}, {"hello.txt", false},
                                          {"random.bin", false}, {"sub", true}});
    REQUIRE(es.size() == 5);
    CHECK(es[4] == nullptr);
    CHECK(list_of(*a, "sub") == listing{{"dir", true}, {"other.lua", false}});
    CHECK(a->is_dir("sub/dir"));
    CHECK_FALSE(a->is_dir("emptydir"));  // empty directories leave no trace without entries
    CHECK(a->find("sub/") == nullptr);

    // The DOS date/time, read as UTC.
    CHECK(a->find("dated.txt")->mtime == utc(2021, 3, 4, 5, 6, 8));
  }
}

TEST_CASE("zip: zstd entries (method 93) and the test writer's stored entries") {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "zstd compressed line " + std::to_string(i % 13) + "\n";
  const std::string rnd = random_bytes(1 << 20, 7);
  // Two frames back to back are one valid zstd stream.
  raw_entry two = zstd_entry("two-frames.txt", "first frame, ");
  const raw_entry second = zstd_entry("x", "second frame");
  two.data += second.data;
  two.size = std::string("first frame, second frame").size();
  two.crc = crc_of("first frame, second frame");
  const std::string z = make_zip({zstd_entry("text.txt", text), zstd_entry("empty", ""),
                                  zstd_entry("random.bin", rnd, 19), zstd_entry("d/e/f.txt", "deep"),
                                  stored_entry("plain.txt", "plain"), two});
  std::string err;
  auto a = open_mem(z, err);
  INFO(err);
  REQUIRE(a);
  CHECK(a->find("text.txt")->method == zip::zstd);
  CHECK(a->find("text.txt")->compressed_size < text.size() / 10);
  check_contents(*a, tree{{"text.txt", text}, {"empty", ""}, {"random.bin", rnd}, {"d/e/f.txt", "deep"},
                          {"plain.txt", "plain"}, {"two-frames.txt", "first frame, second frame"}});
  CHECK(a->is_dir("d/e"));
  CHECK(a->find("plain.txt")->mtime == utc(2022, 6, 15, 12, 34, 56));
  CHECK(&a->src() == a->shared_src().get());
  CHECK(a->src().data() == reinterpret_cast<const unsigned char*>(z.data()));
  CHECK(a->src().fd() == -1);

  // Declared size smaller / larger than what the zstd stream holds.
  std::string bomb = z;
  const std::size_t c = central_of(bomb, "text.txt");
  put32_at(bomb, c + 24, static_cast<std::uint32_t>(text.size() - 1));
  auto b = open_mem(bomb, err);
  REQUIRE(b);
  std::string out;
  CHECK_FALSE(b->read(*b->find("text.txt"), out, err));
  CHECK(err.find("more than its declared size") != std::string::npos);
  CHECK(out.empty());
  put32_at(bomb, c + 24, static_cast<std::uint32_t>(text.size() + 1));
  b = open_mem(bomb, err);
  REQUIRE(b);
  CHECK_FALSE(b->read(*b->find("text.txt"), out, err));
  CHECK(err.find("ends after") != std::string::npos);

  // A corrupt zstd stream fails (zstd's own checksum is off by default: either the frame
  // decoder or our CRC check must catch it).
  std::string bad = z;
  const zip::entry* e = a->find("text.txt");
  bad[e->data_offset + e->compressed_size / 2] ^= 0x55;
  b = open_mem(bad, err);
  REQUIRE(b);
  CHECK_FALSE(b->read(*b->find("text.txt"), out, err));
  CHECK_FALSE(err.empty());

  // Truncated zstd data (the entry claims fewer compressed bytes than the frame needs).
  std::string cut = z;
  put32_at(cut, central_of(cut, "text.txt") + 20, static_cast<std::uint32_t>(e->compressed_size - 3));
  b = open_mem(cut, err);
  REQUIRE(b);
  CHECK_FALSE(b->read(*b->find("text.txt"), out, err));
  CHECK(err.find("truncated") != std::string::npos);
}

TEST_CASE("zip: ZIP64 archives (Python with 65536 entries, and ZIP64 central records)") {
  temp_dir tmp;
  write_file(tmp.path + "/mk.py", py_zip64);
  const std::string path = tmp.path + "/z64.zip";
  run("/usr/bin/python3 '" + tmp.path + "/mk.py' '" + path + "'");
  {
    auto a = open_file(path);
    CHECK(a->entry_count() == 65537);
    CHECK(read_entry(*a, "many/0") == "0");
    CHECK(read_entry(*a, "many/65535") == "65535");
    std::string forced;
    for (int i = 0; i < 1000; ++i) forced += "forced zip64 ";
    CHECK(read_entry(*a, "forced.txt") == forced);
    std::size_t n = 0;
    a->list("many", [&](std::string_view, bool is_dir, const zip::entry* e) {
      n += !is_dir && e != nullptr;
    });
    CHECK(n == 65536);
  }

  const std::string z = make_zip({zstd_entry("a.txt", "zip64 a"), stored_entry("b/c.txt", "zip64 c")}, true);
  std::string err;
  auto a = open_mem(z, err);
  INFO(err);
  REQUIRE(a);
  CHECK(read_entry(*a, "a.txt") == "zip64 a");
  CHECK(read_entry(*a, "b/c.txt") == "zip64 c");

  // Data prepended (a self-extracting stub, or a zip appended to an executable): offsets are
  // found relative to where the central directory really is.
  for (bool z64 : {false, true}) {
    CAPTURE(z64);
    const std::string prefixed =
        "#!/bin/sh\nexit 0\n" + make_zip({stored_entry("x.txt", "prefixed"), zstd_entry("y.txt", "yy")}, z64);
    auto p = open_mem(prefixed, err);
    INFO(err);
    REQUIRE(p);
    CHECK(read_entry(*p, "x.txt") == "prefixed");
    CHECK(read_entry(*p, "y.txt") == "yy");
  }
}

TEST_CASE("zip: truncated and corrupt archives fail to open with an error") {
  temp_dir tmp;
  run("mkdir -p '" + tmp.path + "/s/d' && printf 'hello hello hello hello\\n' > '" + tmp.path +
      "/s/d/h.txt' && printf 'x' > '" + tmp.path + "/s/x'");
  const std::string path = tmp.path + "/small.zip";
  run("cd '" + tmp.path + "/s' && zip -q -r -9 '" + path + "' .");
  const std::string z = read_file(path);
  std::string err;
  REQUIRE(open_mem(z, err));

  // Every prefix of the small archive, from memory.
  for (std::size_t cut = 0; cut < z.size(); ++cut) {
    CAPTURE(cut);
    const std::string part = z.substr(0, cut);
    err.clear();
    CHECK(open_mem(part, err) == nullptr);
    CHECK_FALSE(err.empty());
  }
  // Cuts of a large archive, through files.
  make_tree(tmp.path + "/big");
  const std::string big_path = tmp.path + "/big.zip";
  run("cd '" + tmp.path + "/big' && zip -q -r -9 '" + big_path + "' .");
  const std::string big = read_file(big_path);
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{21}, std::size_t{22}, big.size() / 3,
                          big.size() / 2, big.size() - 200, big.size() - 23, big.size() - 22, big.size() - 1}) {
    CAPTURE(cut);
    write_file(tmp.path + "/cut.zip", big.substr(0, cut));
    auto src = zip::file_source(tmp.path + "/cut.zip", err);
    REQUIRE(src);
    err.clear();
    CHECK(zip::archive::open(src, err) == nullptr);
    CHECK_FALSE(err.empty());
  }

  // Damaged fields in the end record and the central directory.
  const std::size_t eocd = z.size() - 22;
  const std::uint32_t cd_off = get32_at(z, eocd + 16);
  auto damaged = [&](std::size_t at, std::uint32_t v, const char* expect) {
    std::string d = z;
    put32_at(d, at, v);
    err.clear();
    CHECK(open_mem(d, err) == nullptr);
    INFO(err);
    CHECK(err.find(expect) != std::string::npos);
  };
  damaged(eocd + 16, cd_off + 1, "central directory");                // offset of the central directory
  damaged(eocd + 16, 0xfffffff0u, "central directory");              // far past the end
  damaged(eocd + 12, get32_at(z, eocd + 12) + 1000, "central directory");  // size
  damaged(eocd + 8, 0x00400040u, "entries");                        // 64 entries claimed
  damaged(eocd + 4, 0x00010001u, "multi-disk");
  const std::size_t c = central_of(z, "d/h.txt");
  damaged(c + 42, 0x7fffffffu, "local header");                      // local header offset
  damaged(c + 20, 0x00ffffffu, "extends");                           // compressed size
  damaged(static_cast<std::size_t>(local_of(z, c)), 0x12345678u, "local header");  // its signature
  damaged(c, 0x12345678u, "central directory");                      // a record's signature

  CHECK(zip::file_source(tmp.path + "/does-not-exist.zip", err) == nullptr);
  CHECK(err.find("does-not-exist.zip") != std::string::npos);
  CHECK(zip::file_source(tmp.path, err) == nullptr);
  CHECK(err.find("not a regular file") != std::string::npos);
  CHECK(open_mem("", err) == nullptr);
  CHECK(err.find("not a ZIP archive") != std::string::npos);
  CHECK(open_mem(std::string(100, 'x'), err) == nullptr);
  CHECK(err.find("not a ZIP archive") != std::string::npos);

  // An empty archive is valid.
  auto empty = open_mem(make_zip({}), err);
  REQUIRE(empty);
  CHECK(empty->entry_count() == 0);
  CHECK(empty->is_dir(""));
  CHECK(list_of(*empty, "").empty());
}

TEST_CASE("zip: corrupt data fails the CRC check; sizes are hard limits") {
  temp_dir tmp;
  const tree t = make_tree(tmp.path + "/src");
  const std::string stored_path = tmp.path + "/s.zip", deflated_path = tmp.path + "/d.zip";
  run("cd '" + tmp.path + "/src' && zip -q -r -0 '" + stored_path + "' . && zip -q -r -9 '" + deflated_path + "' .");
  const std::string s = read_file(stored_path), d = read_file(deflated_path);
  std::string err, out;

  // A flipped byte in stored data: only the CRC can tell.
  {
    auto a = open_mem(s, err);
    REQUIRE(a);
    std::string bad = s;
    bad[a->find("hello.txt")->data_offset + 100] ^= 1;
    auto b = open_mem(bad, err);
    REQUIRE(b);
    CHECK_FALSE(b->read(*b->find("hello.txt"), out, err));
    CHECK(err.find("CRC") != std::string::npos);
    CHECK(out.empty());
    CHECK_FALSE(stream_entry(*b, *b->find("hello.txt"), 1000, out, err));
    CHECK(err.find("CRC") != std::string::npos);
    // The same, through a file source.
    write_file(tmp.path + "/bad.zip", bad);
    auto f = open_file(tmp.path + "/bad.zip");
    CHECK_FALSE(f->read(*f->find("hello.txt"), out, err));
    CHECK(err.find("CRC") != std::string::npos);
    CHECK(read_entry(*f, "sub/other.lua") == t.at("sub/other.lua"));
  }
  // A flipped byte in deflated data: a deflate error or a CRC error, never success.
  {
    auto a = open_mem(d, err);
    REQUIRE(a);
    const zip::entry* e = a->find("hello.txt");
    // (not the last byte, whose high bits may be padding after the end of the stream)
    for (std::uint64_t at = 0; at + 1 < e->compressed_size; at += 7) {
      std::string bad = d;
      bad[e->data_offset + at] ^= 0x10;
      auto b = open_mem(bad, err);
      REQUIRE(b);
      CAPTURE(at);
      CHECK_FALSE(b->read(*b->find("hello.txt"), out, err));
      CHECK_FALSE(err.empty());
    }
  }
  // Declared size smaller than the inflated data (a zip bomb) and larger (a short stream).
  {
    const std::size_t c = central_of(d, "hello.txt");
    const std::uint32_t real = get32_at(d, c + 24);
    for (std::uint32_t lie : {0u, 1u, real / 2, real - 1}) {
      CAPTURE(lie);
      std::string bomb = d;
      put32_at(bomb, c + 24, lie);
      auto b = open_mem(bomb, err);
      REQUIRE(b);
      CHECK_FALSE(b->read(*b->find("hello.txt"), out, err));
      CHECK(err.find("more than its declared size") != std::string::npos);
      CHECK_FALSE(stream_entry(*b, *b->find("hello.txt"), 1, out, err));
      CHECK(out.size() <= lie);
    }
    std::string shortened = d;
    put32_at(shortened, c + 24, real + 1);
    auto b = open_mem(shortened, err);
    REQUIRE(b);
    CHECK_FALSE(b->read(*b->find("hello.txt"), out, err));
    CHECK(err.find("ends after") != std::string::npos);
    // Compressed size cut short: the deflate stream is truncated.
    std::string cut = d;
    put32_at(cut, c + 20, get32_at(d, c + 20) - 5);
    b = open_mem(cut, err);
    REQUIRE(b);
    CHECK_FALSE(b->read(*b->find("hello.txt"), out, err));
    CHECK(err.find("truncated") != std::string::npos);
    // A stored entry whose sizes disagree.
    std::string st = s;
    const std::size_t sc = central_of(st, "hello.txt");
    put32_at(st, sc + 24, get32_at(st, sc + 24) - 1);
    b = open_mem(st, err);
    REQUIRE(b);
    CHECK_FALSE(b->read(*b->find("hello.txt"), out, err));
    CHECK(err.find("stored entry") != std::string::npos);
  }
}

TEST_CASE("zip: unsafe names are skipped with a warning; the rest stays usable") {
  const std::vector<std::string> evil{"../evil", "/abs", "a/../../b", "C:/win.txt", "c:x", "back\\slash",
                                      std::string("nul\0byte", 8), "a//b", "./dot", "", "x/../y/"};
  std::vector<raw_entry> es;
  for (const std::string& n : evil) es.push_back(stored_entry(n, "evil"));
  es.push_back(stored_entry("ok.txt", "fine"));
  es.push_back(stored_entry("dir/ok2.txt", "fine too"));
  es.push_back(stored_entry("dup.txt", "first"));
  es.push_back(stored_entry("dup.txt", "second"));
  es.push_back(stored_entry("C.txt", "a file named C.txt is fine"));
  es.push_back(stored_entry("..dots..", "dots inside a segment are fine"));
  std::string err;
  const std::string z = make_zip(es);
  auto a = open_mem(z, err);
  INFO(err);
  REQUIRE(a);
  CHECK(a->entry_count() == 5);
  REQUIRE(a->warnings().size() == evil.size() + 1);
  CHECK(a->warnings()[0].find("\"../evil\"") != std::string::npos);
  CHECK(a->warnings()[0].find("'..'") != std::string::npos);
  CHECK(a->warnings()[1].find("\"/abs\"") != std::string::npos);
  CHECK(a->warnings()[1].find("absolute") != std::string::npos);
  CHECK(a->warnings()[3].find("drive letter") != std::string::npos);
  CHECK(a->warnings()[6].find("nul\\x00byte") != std::string::npos);
  CHECK(a->warnings().back().find("duplicate") != std::string::npos);
  for (const std::string& n : evil) CHECK(a->find(n) == nullptr);
  CHECK_FALSE(a->is_dir(".."));
  CHECK_FALSE(a->is_dir("y"));
  CHECK(read_entry(*a, "ok.txt") == "fine");
  CHECK(read_entry(*a, "dir/ok2.txt") == "fine too");
  CHECK(read_entry(*a, "dup.txt") == "first");
  CHECK(read_entry(*a, "C.txt") == "a file named C.txt is fine");
  CHECK(read_entry(*a, "..dots..") == "dots inside a segment are fine");
  CHECK(list_of(*a, "") == listing{{"..dots..", false}, {"C.txt", false}, {"dir", true}, {"dup.txt", false},
                                   {"ok.txt", false}});

  CHECK(zip::name_problem("a/b/c.txt") == nullptr);
  CHECK(zip::name_problem("a/b/") == nullptr);
  CHECK(zip::name_problem("a/b//") != nullptr);
  CHECK(zip::name_problem("/") != nullptr);
  CHECK(zip::name_problem("..") != nullptr);

  // The warning list is capped, with a count of the rest.
  std::vector<raw_entry> many;
  for (int i = 0; i < 300; ++i) many.push_back(stored_entry("../" + std::to_string(i), ""));
  many.push_back(stored_entry("last.txt", "still here"));
  const std::string m = make_zip(many);
  auto b = open_mem(m, err);
  REQUIRE(b);
  CHECK(b->warnings().size() == zip::max_warnings + 1);
  CHECK(b->warnings().back().find("200 more") != std::string::npos);
  CHECK(read_entry(*b, "last.txt") == "still here");
}

TEST_CASE("zip: unsupported methods and encrypted entries stay listed but fail to read") {
  raw_entry bz = stored_entry("bzip2.bin", "pretend");
  bz.method = 12;
  raw_entry enc = stored_entry("secret.txt", "pretend");
  enc.flags = 1;
  const std::string z = make_zip({bz, enc, stored_entry("fine.txt", "fine")});
  std::string err, out;
  auto a = open_mem(z, err);
  REQUIRE(a);
  CHECK(a->entry_count() == 3);
  REQUIRE(a->find("bzip2.bin") != nullptr);
  CHECK_FALSE(a->read(*a->find("bzip2.bin"), out, err));
  CHECK(err.find("unsupported compression method 12") != std::string::npos);
  CHECK(a->open_reader(*a->find("bzip2.bin"), err) == nullptr);
  REQUIRE(a->find("secret.txt") != nullptr);
  CHECK(a->find("secret.txt")->encrypted());
  CHECK_FALSE(a->read(*a->find("secret.txt"), out, err));
  CHECK(err.find("encrypted entry") != std::string::npos);
  CHECK(read_entry(*a, "fine.txt") == "fine");
}

TEST_CASE("zip: memory and file sources agree; the streaming reader matches read") {
  temp_dir tmp;
  const tree t = make_tree(tmp.path + "/src");
  const std::string path = tmp.path + "/a.zip";
  run("cd '" + tmp.path + "/src' && zip -q -r -6 '" + path + "' .");
  const std::string bytes = read_file(path);
  auto f = open_file(path);
  std::string err;
  auto m = open_mem(bytes, err);
  REQUIRE(m);
  CHECK(f->src().fd() >= 0);
  CHECK(f->src().data() == nullptr);
  CHECK(f->src().size() == bytes.size());
  REQUIRE(f->entry_count() == m->entry_count());
  for (std::size_t i = 0; i < f->entry_count(); ++i) {
    const zip::entry &fe = f->entries()[i], &me = m->entries()[i];
    CAPTURE(fe.name);
    CHECK(fe.name == me.name);
    CHECK(fe.data_offset == me.data_offset);
    CHECK(fe.mtime == me.mtime);
    std::string fo, mo;
    CHECK(f->read(fe, fo, err));
    CHECK(m->read(me, mo, err));
    const bool same = fo == mo;
    CHECK(same);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{65536}, std::size_t{3} << 20}) {
      if (chunk == 1 && fe.size > 100000) continue;  // byte at a time only for the small ones
      CAPTURE(chunk);
      std::string fs, ms;
      CHECK(stream_entry(*f, fe, chunk, fs, err));
      CHECK(stream_entry(*m, me, chunk, ms, err));
      const bool same_f = fs == fo, same_m = ms == mo;
      CHECK(same_f);
      CHECK(same_m);
    }
  }
  // Stored entries start where the data is, so they can be sent with sendfile.
  const std::string s_path = tmp.path + "/s.zip";
  run("cd '" + tmp.path + "/src' && zip -q -r -0 '" + s_path + "' .");
  auto s = open_file(s_path);
  const zip::entry* e = s->find("hello.txt");
  std::string direct(e->size, '\0');
  REQUIRE(::pread(s->src().fd(), direct.data(), direct.size(), static_cast<off_t>(e->data_offset)) ==
          static_cast<ssize_t>(direct.size()));
  CHECK(direct == t.at("hello.txt"));

  // A reader outlives its archive (it holds the source).
  std::unique_ptr<zip::archive::reader> r;
  {
    auto tmp_a = open_file(path);
    r = tmp_a->open_reader(*tmp_a->find("sub/other.lua"), err);
    REQUIRE(r);
  }
  std::string got;
  char buf[100];
  for (std::ptrdiff_t k; (k = r->read(buf, sizeof buf, err)) > 0;) got.append(buf, static_cast<std::size_t>(k));
  CHECK(got == t.at("sub/other.lua"));
}
