// basic_server for the bundle this build's options describe, instantiated once.
#include <remora/server.hpp>

template class remora::basic_server<remora::default_policies>;
