// Beast's WebSocket protocol (net/websocket.hpp), compiled once and apart: its templates are
// heavy and only this unit sees them.
#include <remora/net/impl/websocket.ipp>
