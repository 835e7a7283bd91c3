// URL pieces the GET-style personalities (alphavantage, polygon, binance) need: the query
// string, percent-decoding, and base64url for pagination cursors.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace emu {

using QueryParams = std::map<std::string, std::string, std::less<>>;

// Splits "/path?a=1&b=x%20y" into the decoded path and its parameters. '+' decodes to a space;
// a repeated name keeps its first value (vendors differ; none of ours relies on repeats).
void split_target(std::string_view target, std::string& path, QueryParams& params);

// Percent-decodes (malformed escapes are kept as they are).
std::string percent_decode(std::string_view text, bool plus_is_space);
// Percent-encodes everything but unreserved characters (RFC 3986).
std::string percent_encode(std::string_view text);

// Path segments of a decoded path, without empty ones ("/v2/aggs/" -> {"v2", "aggs"}).
std::vector<std::string_view> path_segments(std::string_view path);

std::string base64url_encode(std::string_view bytes);
// False if the text is not base64url (padding optional).
bool base64url_decode(std::string_view text, std::string& out);

// The value of an integer parameter: false if absent (out untouched) or not all digits.
bool parse_int64(std::string_view text, long long& out);

}  // namespace emu
