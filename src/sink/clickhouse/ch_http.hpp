#pragma once
// One connection to ClickHouse's HTTP interface (a libcurl easy handle, kept alive between
// requests). Every request is a POST to /?database=...; the password goes as HTTP basic auth,
// never in a URL. Failures come back by what the database-sink framework should do next
// (driver.hpp): transient (the connection broke, the server restarts or is overloaded), auth,
// unreachable (nothing listens), invalid_input (the server refused the data), permanent.
#include <curl/curl.h>

#include <functional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "sink/clickhouse/ch_url.hpp"

namespace finsync::sink::clickhouse {

// Fills `buf` with up to `len` bytes of an insert's data; 0 ends it.
using Producer = std::function<size_t(char* buf, size_t len)>;

class Http {
 public:
  explicit Http(Url url);
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  // Runs one statement (sent as the body); returns what the server answered (a SELECT's rows
  // in the format the statement asks for).
  Result<std::string> run(std::string_view what, const std::string& sql);
  // `INSERT INTO ... FORMAT RowBinary` in the URL, its data streamed from `produce` as a chunked
  // body.
  Result<void> insert(std::string_view what, const std::string& sql, const Producer& produce);

  const Url& url() const { return url_; }
  // The server's exception code of the last failed request (0: none or not the server's).
  int last_code() const { return last_code_; }

 private:
  Result<std::string> perform(std::string_view what, const std::string& url_query);

  Url url_;
  CURL* curl_ = nullptr;
  int last_code_ = 0;
};

// The kind of a ClickHouse exception code (`Code: 60, e.displayText() = ...`).
ErrorKind kind_of_code(int code);
// The exception code in a server's error text; 0 when there is none.
int code_of(std::string_view body);

}  // namespace finsync::sink::clickhouse
