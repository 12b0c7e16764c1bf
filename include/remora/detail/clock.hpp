// The clock for deadlines, revalidation and the page watchdog: milliseconds of the coarse
// monotonic clock (a few ms resolution, and cheaper to read than the precise one).
#pragma once
#include <cstdint>
#include <ctime>

namespace remora::detail {

inline std::int64_t coarse_ms() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace remora::detail
