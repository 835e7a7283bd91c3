#pragma once
// libmongoc errors classified by what the framework should do next (src/sink/db/driver.hpp).
#include <mongoc/mongoc.h>

#include <string_view>

#include "core/error.hpp"

namespace finsync::sink::mongodb {

// Server error codes the driver specifications call retryable (the server is restarting, stepping
// down, or the network broke), plus WriteConflict and DuplicateKey (two writers upserting one
// new key at once: the loser's retry finds the document and replaces it).
bool retryable_code(int64_t code);

// `what` names the step ("writing rows", "reading landed markers"). The message is masked.
// `reply` (may be null) is the server's answer: its writeErrors, writeConcernErrors and
// errorLabels decide when the error itself is generic.
Error mongo_error(std::string_view what, const bson_error_t& error, const bson_t* reply);

// A failed first contact: unreachable (no server answered), auth (credentials refused), else as
// mongo_error.
Error connect_error(const bson_error_t& error, std::string_view user);

// The codes of a bulk reply's writeErrors, in order.
std::vector<int64_t> write_error_codes(const bson_t* reply);
bool has_write_concern_errors(const bson_t* reply);

}  // namespace finsync::sink::mongodb
