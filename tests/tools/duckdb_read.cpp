// duckdb_read [--write] [DB_FILE|:memory:] SQL — runs SQL on its own DuckDB connection and prints
// the result as CSV (header row, NULL as empty). Tests use it to read back what finsync landed;
// --write opens the file read-write, for tests that damage landed data on purpose.
#include <duckdb.h>

#include <cstdio>
#include <string>

namespace {

std::string csv_field(const char* v) {
  if (v == nullptr) return "";
  std::string s(v);
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  const bool write = argc == 4 && std::string(argv[1]) == "--write";
  if (write) {
    --argc;
    ++argv;
  }
  if (argc != 3) {
    std::fprintf(stderr, "usage: duckdb_read [--write] DB_FILE|:memory: SQL\n");
    return 64;
  }
  duckdb_database db;
  duckdb_connection con;
  const char* path = std::string(argv[1]) == ":memory:" ? nullptr : argv[1];
  duckdb_config config;
  duckdb_create_config(&config);
  duckdb_set_config(config, "access_mode", path && !write ? "READ_ONLY" : "AUTOMATIC");
  char* open_error = nullptr;
  if (duckdb_open_ext(path, &db, config, &open_error) != DuckDBSuccess) {
    std::fprintf(stderr, "duckdb_read: cannot open %s: %s\n", argv[1],
                 open_error ? open_error : "?");
    return 1;
  }
  duckdb_destroy_config(&config);
  duckdb_connect(db, &con);
  duckdb_result res;
  if (duckdb_query(con, argv[2], &res) != DuckDBSuccess) {
    std::fprintf(stderr, "duckdb_read: %s\n", duckdb_result_error(&res));
    duckdb_destroy_result(&res);
    return 1;
  }
  idx_t cols = duckdb_column_count(&res);
  idx_t rows = duckdb_row_count(&res);
  for (idx_t c = 0; c < cols; ++c)
    std::printf("%s%s", c ? "," : "", csv_field(duckdb_column_name(&res, c)).c_str());
  std::printf("\n");
  for (idx_t r = 0; r < rows; ++r) {
    for (idx_t c = 0; c < cols; ++c) {
      char* v = duckdb_value_is_null(&res, c, r) ? nullptr : duckdb_value_varchar(&res, c, r);
      std::printf("%s%s", c ? "," : "", csv_field(v).c_str());
      duckdb_free(v);
    }
    std::printf("\n");
  }
  duckdb_destroy_result(&res);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return 0;
}
