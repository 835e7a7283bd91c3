#pragma once
// Internal to the net module (exposed for unit tests): how a failed libcurl transfer becomes a
// finsync Error. Kept apart from the client so the table can be tested without a network.
#include <string>
#include <string_view>

#include <curl/curl.h>

#include "core/error.hpp"

namespace finsync::net::detail {

// What was observed about a failed transfer, besides its CURLcode.
struct TransferFacts {
  bool connected = false;     // a connection to the server (or proxy) was established or reused
  bool received_any = false;  // at least one byte of response (headers or body) arrived
};

ErrorKind classify_curl_error(CURLcode code, TransferFacts facts);

// "<METHOD> <url> failed: <curl error text> (<detail>)[; <hint>]". The URL and the detail are
// passed through secrets::mask.
Error make_transfer_error(std::string_view method, std::string_view url, CURLcode code,
                          std::string_view detail, TransferFacts facts);

}  // namespace finsync::net::detail
