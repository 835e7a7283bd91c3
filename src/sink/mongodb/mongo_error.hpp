#pragma once
// libmongoc errors classified by what the framework should do next (src/sink/db/driver.hpp).
#include <mongoc/mongoc.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace finsync::sink::mongodb {

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
