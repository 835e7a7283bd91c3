#include "sink/mongodb/mongo_error.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "core/secrets.hpp"

namespace finsync::sink::mongodb {

namespace {

bool auth_code(int64_t code) {
  return code == 13 /* Unauthorized */ || code == 18 /* AuthenticationFailed */;
}

// The store rejects the content: a document that fails the collection's validator, a value or
// an index spec it cannot take.
bool content_code(int64_t code) {
  static constexpr int64_t codes[] = {
      2,      // BadValue
      14,     // TypeMismatch
      67,     // CannotCreateIndex
      72,     // InvalidOptions
      73,     // InvalidNamespace
      85,     // IndexOptionsConflict
      86,     // IndexKeySpecsConflict
      121,    // DocumentValidationFailure
      10334,  // BSONObjectTooLarge
  };
  return std::find(std::begin(codes), std::end(codes), code) != std::end(codes);
}

bool has_label(const bson_t* reply, const char* label) {
  return reply != nullptr && mongoc_error_has_label(reply, label);
}

std::vector<int64_t> codes_in(const bson_t* reply, const char* array) {
  std::vector<int64_t> out;
  bson_iter_t it, child;
  if (reply == nullptr || !bson_iter_init_find(&it, reply, array) || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &child))
    return out;
  while (bson_iter_next(&child)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&child)) continue;
    bson_iter_t doc;
    if (bson_iter_recurse(&child, &doc) && bson_iter_find(&doc, "code"))
      out.push_back(bson_iter_as_int64(&doc));
  }
  return out;
}

// Server error codes the driver specifications call retryable (the server is restarting, stepping
// down, or the network broke), plus WriteConflict and DuplicateKey (two writers upserting one
// new key at once: the loser's retry finds the document and replaces it).
bool retryable_code(int64_t code) {
  static constexpr int64_t codes[] = {
      6,      // HostUnreachable
      7,      // HostNotFound
      64,     // WriteConcernFailed (wtimeout): the landing is idempotent, run it again
      89,     // NetworkTimeout
      91,     // ShutdownInProgress
      112,    // WriteConflict
      134,    // ReadConcernMajorityNotAvailableYet
      189,    // PrimarySteppedDown
      262,    // ExceededTimeLimit
      9001,   // SocketException
      10107,  // NotWritablePrimary
      11000,  // DuplicateKey: a concurrent upsert of the same new key
      11600,  // InterruptedAtShutdown
      11602,  // InterruptedDueToReplStateChange
      13435,  // NotPrimaryNoSecondaryOk
      13436,  // NotPrimaryOrSecondary
  };
  return std::find(std::begin(codes), std::end(codes), code) != std::end(codes);
}

}  // namespace

std::vector<int64_t> write_error_codes(const bson_t* reply) {
  return codes_in(reply, "writeErrors");
}

bool has_write_concern_errors(const bson_t* reply) {
  return !codes_in(reply, "writeConcernErrors").empty();
}

Error mongo_error(std::string_view what, const bson_error_t& e, const bson_t* reply) {
  ErrorKind kind = ErrorKind::permanent;
  int64_t code = 0;  // the server's, when it gave one
  if (e.domain == MONGOC_ERROR_STREAM || e.domain == MONGOC_ERROR_PROTOCOL ||
      e.domain == MONGOC_ERROR_SERVER_SELECTION) {
    kind = ErrorKind::transient;  // the connection broke or no server answers now
  } else if (e.domain == MONGOC_ERROR_CLIENT && e.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) {
    kind = ErrorKind::auth;
  } else if (e.domain == MONGOC_ERROR_BSON || e.domain == MONGOC_ERROR_COMMAND) {
    kind = e.code == MONGOC_ERROR_COMMAND_INVALID_ARG ? ErrorKind::internal : ErrorKind::permanent;
  }
  std::vector<int64_t> codes = write_error_codes(reply);
  for (int64_t c : codes_in(reply, "writeConcernErrors")) codes.push_back(c);
  // Error API 2: a server's own code comes in the SERVER (or WRITE_CONCERN) domain.
  if (codes.empty() && (e.domain == MONGOC_ERROR_SERVER || e.domain == MONGOC_ERROR_QUERY ||
                        e.domain == MONGOC_ERROR_WRITE_CONCERN))
    codes.push_back(e.code);
  if (!codes.empty()) {
    code = codes.front();
    if (std::any_of(codes.begin(), codes.end(), auth_code))
      kind = ErrorKind::auth;
    else if (std::all_of(codes.begin(), codes.end(), retryable_code))
      kind = ErrorKind::transient;
    else if (std::any_of(codes.begin(), codes.end(), content_code))
      kind = ErrorKind::invalid_input;
    else if (kind != ErrorKind::internal)
      kind = ErrorKind::permanent;
  }
  if (has_label(reply, "RetryableWriteError") || has_label(reply, "NetworkError") ||
      has_label(reply, "TransientTransactionError"))
    kind = ErrorKind::transient;
  std::string msg = e.message[0] != '\0' ? std::string(e.message) : std::string("no detail");
  if (code != 0) msg += fmt::format(" (code {})", code);
  return Error{kind, secrets::mask(fmt::format("{}: {}", what, msg)), std::nullopt};
}

Error connect_error(const bson_error_t& e, std::string_view user) {
  const std::string_view text = e.message;
  const bool auth =
      (e.domain == MONGOC_ERROR_CLIENT && e.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) ||
      text.find("Authentication failed") != std::string_view::npos;
  if (auth)
    return Error{ErrorKind::auth,
                 secrets::mask(fmt::format(
                     "authentication failed for user '{}': check the user, the password and the "
                     "dsn's authSource (the database that holds the user)",
                     user)),
                 std::nullopt};
  if (e.domain == MONGOC_ERROR_SERVER_SELECTION || e.domain == MONGOC_ERROR_STREAM)
    return Error{ErrorKind::unreachable,
                 secrets::mask(fmt::format("cannot reach the server: {}", text)), std::nullopt};
  return mongo_error("connecting", e, nullptr);
}

}  // namespace finsync::sink::mongodb
