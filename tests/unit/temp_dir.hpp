// A directory under /tmp for one test, removed with everything in it afterwards.
#pragma once
#include <doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <stdlib.h>

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/remora-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  // Writes `data` to `rel` (parent directories created); returns the file's path.
  std::string write(const std::string& rel, const std::string& data) const {
    std::filesystem::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << data;
    return (path / rel).string();
  }
};
