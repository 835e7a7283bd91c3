#pragma once
// `finsync query`: SQL over the workspace DuckDB store, with relative file paths (Parquet, CSV)
// resolved against the data directory.
#include <string>

#include "core/error.hpp"

namespace finsync::sink {

enum class QueryFormat { table, csv };

Result<std::string> run_query(const std::string& store_path, const std::string& data_dir,
                              const std::string& sql, QueryFormat format);

}  // namespace finsync::sink
