#!/bin/sh
# Builds tests/header_only/product.cpp the way a product would: only include/ on the path,
# no generated build_config.hpp, no Remora library; then runs it.
set -eu
src="$1"; out="$2"; cxx="$3"
$cxx -std=c++20 -Wall -Wextra -Werror -Werror=undef -O0 \
  -I"$src/include" -isystem /usr/include/lua5.4 \
  "$src/tests/header_only/product.cpp" -o "$out/header_only_product" \
  -l:liblua5.4-c++.a -lz -lzstd -ldl -lpthread
exec "$out/header_only_product"
