// The crypto middle, compiled apart from src/remora.cpp: Botan's PKI headers are heavy, and
// only this file includes them. Empty of code in an edition without crypto (but for
// open_crypto_lib as a no-op and parse_cert_time).
#include <remora/crypto/impl/pki.ipp>
#include <remora/lua/impl/crypto_lib.ipp>
