#include "sink/query.hpp"

#include <duckdb.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace finsync::sink {

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string render(duckdb_result& res, QueryFormat format) {
  const idx_t cols = duckdb_column_count(&res);
  const idx_t rows = duckdb_row_count(&res);
  std::vector<std::vector<std::string>> cells(rows + 1);
  for (idx_t c = 0; c < cols; ++c) cells[0].push_back(duckdb_column_name(&res, c));
  for (idx_t r = 0; r < rows; ++r)
    for (idx_t c = 0; c < cols; ++c) {
      if (duckdb_value_is_null(&res, c, r)) {
        cells[r + 1].push_back(format == QueryFormat::csv ? "" : "NULL");
        continue;
      }
      char* v = duckdb_value_varchar(&res, c, r);
      cells[r + 1].push_back(v ? v : "");
      duckdb_free(v);
    }
  std::string out;
  if (format == QueryFormat::csv) {
    for (const auto& row : cells) {
      for (size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + csv_field(row[c]);
      out += '\n';
    }
    return out;
  }
  std::vector<size_t> width(cols, 0);
  for (const auto& row : cells)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  for (size_t i = 0; i < cells.size(); ++i) {
    for (size_t c = 0; c < cols; ++c)
      out += fmt::format("{}{:<{}}", c ? " | " : "", cells[i][c], width[c]);
    out += '\n';
    if (i == 0) {
      for (size_t c = 0; c < cols; ++c) out += (c ? "-+-" : "") + std::string(width[c], '-');
      out += '\n';
    }
  }
  out += fmt::format("({} row{})\n", rows, rows == 1 ? "" : "s");
  return out;
}

}  // namespace

Result<std::string> run_query(const std::string& store_path, const std::string& data_dir,
                              const std::string& sql, QueryFormat format) {
  duckdb_config config;
  duckdb_create_config(&config);
  duckdb_set_config(config, "access_mode", "READ_ONLY");
  duckdb_database db;
  char* err = nullptr;
  const bool ok = duckdb_open_ext(store_path.c_str(), &db, config, &err) == DuckDBSuccess;
  duckdb_destroy_config(&config);
  if (!ok) {
    std::string msg = err ? err : "unknown error";
    duckdb_free(err);
    if (msg.find("lock") != std::string::npos)
      return fail(ErrorKind::transient,
                  fmt::format("the DuckDB store {} is in use by another finsync process (a run is "
                              "writing to it); query again when it has finished ({})",
                              store_path, msg));
    return fail(ErrorKind::invalid_input,
                fmt::format("cannot open the DuckDB store {}: {}", store_path, msg));
  }
  duckdb_connection con;
  duckdb_connect(db, &con);
  duckdb_result res;
  const std::string search = fmt::format("SET file_search_path = '{}'", data_dir);
  duckdb_query(con, search.c_str(), nullptr);
  Result<std::string> out;
  if (duckdb_query(con, sql.c_str(), &res) != DuckDBSuccess) {
    out =
        fail(ErrorKind::invalid_input, fmt::format("query failed: {}", duckdb_result_error(&res)));
  } else {
    out = render(res, format);
  }
  duckdb_destroy_result(&res);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return out;
}

}  // namespace finsync::sink
