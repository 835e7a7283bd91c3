#include "net/curl_error.hpp"

#include "core/secrets.hpp"

namespace finsync::net::detail {
namespace {

bool is_tls_failure(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return true;
    default:
      return false;
  }
}

}  // namespace

ErrorKind classify_curl_error(CURLcode code, TransferFacts facts) {
  if (is_tls_failure(code)) return ErrorKind::unreachable;
  switch (code) {
    case CURLE_OK:
      return ErrorKind::internal;  // not a failure; callers never ask
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PROXY:
      return ErrorKind::unreachable;
    case CURLE_OPERATION_TIMEDOUT:
      // Connect timeouts, and servers that accept a connection but never answer, look the same
      // to the caller: nothing usable is there. A response that stalls half way is transient.
      return facts.received_any ? ErrorKind::transient : ErrorKind::unreachable;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_AGAIN:
      return ErrorKind::transient;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      return ErrorKind::invalid_input;
    case CURLE_FAILED_INIT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_RECURSIVE_API_CALL:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
      return ErrorKind::internal;
    default:
      return ErrorKind::transient;
  }
}

Error make_transfer_error(std::string_view method, std::string_view url, CURLcode code,
                          std::string_view detail, TransferFacts facts) {
  const ErrorKind kind = classify_curl_error(code, facts);
  std::string message(method);
  message += ' ';
  message += secrets::mask(url);
  message += " failed: ";
  message += curl_easy_strerror(code);
  if (!detail.empty()) {
    message += " (";
    message += secrets::mask(detail);
    message += ')';
  }
  if (is_tls_failure(code)) {
    message +=
        "; TLS handshake or certificate verification failed: if the server uses a private or "
        "corporate CA, set `ca_file` "
        "to a PEM bundle containing it";
  } else if (code == CURLE_OPERATION_TIMEDOUT && !facts.received_any) {
    message += facts.connected ? "; the server accepted the connection but sent no response"
                               : "; no connection could be established";
  }
  return Error{kind, std::move(message), std::nullopt};
}

}  // namespace finsync::net::detail
