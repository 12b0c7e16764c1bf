// The compiled middle: every non-template definition of the core, once.
#include <remora/server.hpp>
#include <remora/src.hpp>
