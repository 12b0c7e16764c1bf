// The three edition bundles, instantiated in one translation unit for bundles_test.cpp
// (the remora binary instantiates only the bundle its options describe).
#include <remora/server.hpp>

template class remora::basic_server<remora::full_policies>;
template class remora::basic_server<remora::embedded_policies>;
template class remora::basic_server<remora::minimal_policies>;
