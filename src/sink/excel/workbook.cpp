#include "sink/excel/workbook.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/failpoint.hpp"
#include "sink/excel/cell_values.hpp"
#include "sink/excel/sheet_layout.hpp"

namespace finsync::sink::excel {

namespace fs = std::filesystem;
using duck::quote_ident;

namespace {

Result<void> fsync_path(const fs::path& p, bool directory) {
  int fd = ::open(p.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0)
    return fail(ErrorKind::permanent,
                fmt::format("cannot open {} to sync it: {}", p.string(), std::strerror(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0)
    return fail(ErrorKind::permanent,
                fmt::format("cannot sync {}: {}", p.string(), std::strerror(err)));
  return {};
}

// A libxlsxwriter workbook and the formats its cells use.
class Book {
 public:
  Book(const fs::path& tmp, const std::string& tmpdir) : tmpdir_(tmpdir) {
    lxw_workbook_options opts{};
    opts.constant_memory = LXW_TRUE;
    opts.tmpdir = tmpdir_.data();
    wb_ = workbook_new_opt(tmp.c_str(), &opts);
    if (wb_ == nullptr) return;
    bold_ = workbook_add_format(wb_);
    format_set_bold(bold_);
    date_ = workbook_add_format(wb_);
    format_set_num_format(date_, "yyyy-mm-dd");
    datetime_ = workbook_add_format(wb_);
    format_set_num_format(datetime_, "yyyy-mm-dd hh:mm:ss.000");
  }
  ~Book() {
    if (wb_) (void)workbook_close(wb_);
  }
  Book(const Book&) = delete;
  Book& operator=(const Book&) = delete;

  bool ok() const { return wb_ != nullptr; }
  // Writes the file and frees the workbook.
  lxw_error close() {
    lxw_error e = workbook_close(wb_);
    wb_ = nullptr;
    return e;
  }

  lxw_workbook* wb_ = nullptr;
  lxw_format* bold_ = nullptr;
  lxw_format* date_ = nullptr;
  lxw_format* datetime_ = nullptr;

 private:
  std::string tmpdir_;
};

Error xlsx_error(const std::string& what, lxw_error e) {
  return Error{ErrorKind::permanent, fmt::format("{}: {}", what, lxw_strerror(e)), {}};
}

bool is_temp_of(const fs::path& p, const std::string& name) {
  const std::string prefix = "." + name + ".tmp-";
  return p.filename().string().compare(0, prefix.size(), prefix) == 0;
}

class Writer {
 public:
  Writer(Book& book, const WorkbookSpec& spec) : book_(book), spec_(spec) {
    split_ = SheetSplit(spec.rows_per_sheet);
  }

  Result<void> start_sheet(const std::string& name) {
    finish_sheet();
    ws_ = workbook_add_worksheet(book_.wb_, name.c_str());
    if (ws_ == nullptr)
      return fail(ErrorKind::internal, fmt::format("libxlsxwriter refused the sheet '{}'", name));
    const auto& fields = spec_.schema.fields;
    for (size_t c = 0; c < fields.size(); ++c) {
      // Wide enough that dates show instead of ####.
      if (fields[c].type == DataType::date)
        worksheet_set_column(ws_, lxw_col_t(c), lxw_col_t(c), 11, nullptr);
      else if (fields[c].type == DataType::timestamp)
        worksheet_set_column(ws_, lxw_col_t(c), lxw_col_t(c), 23, nullptr);
      if (auto e =
              worksheet_write_string(ws_, 0, lxw_col_t(c), fields[c].name.c_str(), book_.bold_);
          e != LXW_NO_ERROR)
        return fail(xlsx_error("writing the header of sheet " + name, e));
    }
    worksheet_freeze_panes(ws_, 1, 0);
    last_row_ = 0;
    ++stats_.sheets;
    return {};
  }

  void finish_sheet() {
    if (ws_ == nullptr) return;
    worksheet_autofilter(ws_, 0, 0, lxw_row_t(last_row_),
                         lxw_col_t(spec_.schema.fields.size() - 1));
    ws_ = nullptr;
  }

  // One row of `chunk`; column 0 is the sheet group when spec_.group_column is set.
  Result<void> row(duckdb_data_chunk chunk, idx_t r) {
    const size_t first = spec_.group_column.empty() ? 0 : 1;
    std::string_view group = spec_.sheet_name;
    if (first == 1) {
      group = text_at(chunk, 0, r, group_buf_) ? std::string_view(group_buf_) : "NULL";
    }
    if (auto name = split_.next(group)) {
      if (auto s = start_sheet(*name); !s) return s;
    }
    const auto row = lxw_row_t(split_.row());
    last_row_ = split_.row();
    const auto& fields = spec_.schema.fields;
    for (size_t c = 0; c < fields.size(); ++c) {
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk, c + first);
      uint64_t* valid = duckdb_vector_get_validity(v);
      if (valid && !duckdb_validity_row_is_valid(valid, r)) continue;
      void* data = duckdb_vector_get_data(v);
      const auto col = lxw_col_t(c);
      lxw_error e = LXW_NO_ERROR;
      switch (fields[c].type) {
        case DataType::int64:
          e = worksheet_write_number(ws_, row, col, double(static_cast<int64_t*>(data)[r]),
                                     nullptr);
          break;
        case DataType::float64:
          e = worksheet_write_number(ws_, row, col, static_cast<double*>(data)[r], nullptr);
          break;
        case DataType::date:
          e = worksheet_write_number(
              ws_, row, col, excel_date(static_cast<duckdb_date*>(data)[r].days), book_.date_);
          break;
        case DataType::timestamp:
          e = worksheet_write_number(ws_, row, col,
                                     excel_datetime(static_cast<duckdb_timestamp*>(data)[r].micros),
                                     book_.datetime_);
          break;
        case DataType::boolean:
          e = worksheet_write_boolean(ws_, row, col, static_cast<bool*>(data)[r], nullptr);
          break;
        case DataType::string:
          text_at(chunk, c + first, r, text_buf_);
          e = worksheet_write_string(ws_, row, col, text_buf_.c_str(), nullptr);
          break;
      }
      if (e != LXW_NO_ERROR)
        return fail(xlsx_error(
            fmt::format("writing row {} column {} of sheet {}", row, fields[c].name, stats_.sheets),
            e));
    }
    ++stats_.rows;
    return {};
  }

  // An empty table still gets its header.
  Result<void> finish() {
    if (stats_.sheets == 0) {
      if (auto s = start_sheet(sanitize_sheet_name(spec_.sheet_name)); !s) return s;
    }
    finish_sheet();
    return {};
  }

  const WorkbookStats& stats() const { return stats_; }

 private:
  static bool text_at(duckdb_data_chunk chunk, idx_t col, idx_t r, std::string& out) {
    duckdb_vector v = duckdb_data_chunk_get_vector(chunk, col);
    uint64_t* valid = duckdb_vector_get_validity(v);
    if (valid && !duckdb_validity_row_is_valid(valid, r)) return false;
    auto* s = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v)) + r;
    out.assign(duckdb_string_t_data(s), duckdb_string_t_length(*s));
    return true;
  }

  Book& book_;
  const WorkbookSpec& spec_;
  SheetSplit split_;
  lxw_worksheet* ws_ = nullptr;
  int64_t last_row_ = 0;
  std::string group_buf_, text_buf_;
  WorkbookStats stats_;
};

// Streams the staged rows into the workbook.
Result<void> fill(duck::Connection& con, const WorkbookSpec& spec, Writer& w) {
  std::string cols;
  if (!spec.group_column.empty())
    cols = fmt::format("CAST({} AS VARCHAR)", quote_ident(spec.group_column));
  for (const auto& f : spec.schema.fields) cols += (cols.empty() ? "" : ", ") + quote_ident(f.name);
  std::string order;
  if (!spec.group_column.empty()) order = quote_ident(spec.group_column) + " NULLS LAST";
  for (const auto& o : spec.order) order += (order.empty() ? "" : ", ") + quote_ident(o);
  const std::string sql = fmt::format("SELECT {} FROM main.{}{}", cols, quote_ident(spec.table),
                                      order.empty() ? "" : " ORDER BY " + order);

  duckdb_prepared_statement stmt = nullptr;
  if (duckdb_prepare(con.handle(), sql.c_str(), &stmt) != DuckDBSuccess) {
    std::string msg = duckdb_prepare_error(stmt);
    duckdb_destroy_prepare(&stmt);
    return fail(ErrorKind::permanent, "reading the staged rows: " + msg);
  }
  duckdb_pending_result pending = nullptr;
  duckdb_state st = duckdb_pending_prepared_streaming(stmt, &pending);
  duckdb_destroy_prepare(&stmt);
  duckdb_result res{};
  if (st == DuckDBSuccess) st = duckdb_execute_pending(pending, &res);
  if (st != DuckDBSuccess) {
    std::string msg = pending ? duckdb_pending_error(pending) : "cannot stream the query";
    duckdb_destroy_pending(&pending);
    duckdb_destroy_result(&res);
    return fail(ErrorKind::permanent, "reading the staged rows: " + msg);
  }
  duckdb_destroy_pending(&pending);
  Result<void> out = {};
  while (out) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
    if (chunk == nullptr) break;
    const idx_t n = duckdb_data_chunk_get_size(chunk);
    for (idx_t r = 0; r < n && out; ++r) out = w.row(chunk, r);
    duckdb_destroy_data_chunk(&chunk);
  }
  if (out && duckdb_result_error(&res) != nullptr)
    out = fail(ErrorKind::permanent,
               std::string("reading the staged rows: ") + duckdb_result_error(&res));
  duckdb_destroy_result(&res);
  return out;
}

}  // namespace

Result<WorkbookStats> build_workbook(duck::Connection& con, const WorkbookSpec& spec) {
  const fs::path final_path(spec.path);
  const fs::path dir = final_path.parent_path();
  const std::string name = final_path.filename().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return fail(ErrorKind::permanent,
                fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (is_temp_of(e.path(), name)) stale.push_back(e.path());
  for (const auto& p : stale) fs::remove(p, ec);

  const fs::path tmp = dir / fmt::format(".{}.tmp-{}", name, ::getpid());
  WorkbookStats stats;
  {
    Book book(tmp, dir.string());
    if (!book.ok())
      return fail(ErrorKind::permanent, fmt::format("cannot create the workbook {}", tmp.string()));
    Writer w(book, spec);
    Result<void> filled = fill(con, spec, w);
    if (filled) filled = w.finish();
    lxw_error closed = book.close();
    if (!filled || closed != LXW_NO_ERROR) {
      fs::remove(tmp, ec);
      if (!filled) return fail(filled.error());
      return fail(xlsx_error("writing " + tmp.string(), closed));
    }
    stats = w.stats();
  }
  auto undo = [&](Error e) -> Result<WorkbookStats> {
    fs::remove(tmp, ec);
    return fail(std::move(e));
  };
  if (auto s = fsync_path(tmp, false); !s) return undo(s.error());
  if (auto f = FINSYNC_FAILPOINT("sink.inside_materialize"); !f) return undo(f.error());
  if (::rename(tmp.c_str(), final_path.c_str()) != 0)
    return undo(Error{ErrorKind::permanent,
                      fmt::format("cannot rename {} to {}: {}", tmp.string(), final_path.string(),
                                  std::strerror(errno)),
                      {}});
  if (auto s = fsync_path(dir, true); !s) return fail(s.error());
  stats.bytes = int64_t(fs::file_size(final_path, ec));
  return stats;
}

}  // namespace finsync::sink::excel
