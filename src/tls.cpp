// The Botan side of TLS (tls/session.hpp), compiled once and apart: Botan's TLS headers are
// heavy, and only this unit sees them.
#include <remora/tls/impl/session.ipp>
