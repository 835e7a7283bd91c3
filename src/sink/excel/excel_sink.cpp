#include "sink/excel/excel_sink.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "sink/excel/cell_values.hpp"
#include "sink/excel/sheet_layout.hpp"
#include "sink/excel/workbook.hpp"
#include "sink/spec_check.hpp"
#include "sink/staging_sink.hpp"

namespace finsync::sink::excel {

namespace fs = std::filesystem;
using duck::quote_literal;

namespace {

class ExcelSink final : public Sink {
 public:
  ExcelSink(std::unique_ptr<StagingSink> staging, std::string table, std::string path,
            bool per_symbol, std::string sheet_column, int64_t sheet_rows)
      : staging_(std::move(staging)),
        spec_table_(std::move(table)),
        path_(std::move(path)),
        per_symbol_(per_symbol),
        sheet_column_(std::move(sheet_column)),
        sheet_rows_(sheet_rows) {}

  Result<void> open(const TableSpec& t) override {
    const std::string table = t.table.empty() ? spec_table_ : t.table;
    if (path_.empty())
      path_ = (fs::path(data_dir_) / (table + ".xlsx")).lexically_normal().string();
    if (per_symbol_) {
      if (sheet_column_.empty())
        for (const auto& k : t.primary_key)
          if (k != t.time_column) {
            sheet_column_ = k;
            break;
          }
      if (sheet_column_.empty())
        return fail(ErrorKind::invalid_input,
                    fmt::format("{}: sheets: per_symbol needs a sheet_column: the primary key ({}) "
                                "has no column besides the time column",
                                where(), fmt::join(t.primary_key, ", ")));
      if (t.schema.index_of(sheet_column_) < 0)
        return fail(ErrorKind::invalid_input,
                    fmt::format("{}: sheet_column '{}' is not a column of the endpoint", where(),
                                sheet_column_));
    }
    if (auto r = staging_->open(t); !r) return fail(wrap(r.error()));
    table_ = t;
    if (table_.table.empty()) table_.table = table;
    auto db = duck::Database::open(staging_->store_path());
    if (!db) return fail(wrap(db.error()));
    auto con = duck::Connection::connect(*db);
    if (!con) return fail(wrap(con.error()));
    con_ = std::move(*con);
    std::lock_guard lk(con_.database().write_mutex());
    if (auto r = con_.exec(
            "CREATE TABLE IF NOT EXISTS main._finsync_workbooks(path VARCHAR PRIMARY KEY, tbl "
            "VARCHAR, dirty BOOLEAN)");
        !r)
      return fail(wrap(r.error()));
    opened_ = true;
    return {};
  }

  Result<void> write(const RecordBatch& batch) override {
    if (auto c = check_cells(batch, where()); !c) return c;
    return staging_->write(batch);
  }

  using Sink::commit;
  Result<void> commit(std::span<const Checkpoint> cps) override {
    // The mark goes first: a crash after the rows landed leaves it set, so the next run's close
    // rebuilds the workbook.
    if (!marked_) {
      if (auto m = set_dirty(true); !m) return m;
      marked_ = true;
    }
    return staging_->commit(cps);
  }

  Result<void> rollback() override { return staging_->rollback(); }

  Result<std::map<std::string, int64_t>> landed_tasks(const std::string& plan) override {
    return staging_->landed_tasks(plan);
  }

  Result<SinkStats> close() override {
    auto inner = staging_->close();
    Result<SinkStats> out = inner;
    if (inner && opened_) {
      std::error_code ec;
      auto dirty = is_dirty();
      if (!dirty)
        out = fail(dirty.error());
      else if (*dirty || !fs::exists(path_, ec))
        out = rebuild();
    }
    opened_ = false;
    marked_ = false;
    con_.reset();
    return out;
  }

  Result<void> health() override { return staging_->health(); }
  // The workbook is rebuilt from the staging table: verify reads that.
  Result<std::map<std::string, std::vector<int32_t>>> landed_days(
      const TableSpec& table, const std::string& symbol_column) override {
    return staging_->landed_days(table, symbol_column);
  }

  Result<SinkCheck> check(const TableSpec& t) override {
    auto c = staging_->check(t);
    if (!c) return fail(wrap(c.error()));
    std::string path =
        path_.empty()
            ? (fs::path(data_dir_) / ((t.table.empty() ? spec_table_ : t.table) + ".xlsx"))
                  .lexically_normal()
                  .string()
            : path_;
    c->notes.insert(c->notes.begin(),
                    fmt::format("rows are staged in {}; the workbook is rebuilt from them",
                                staging_->store_path()));
    std::error_code ec;
    c->notes.push_back(fs::exists(path, ec) ? "the workbook exists"
                                            : "the workbook does not exist yet");
    c->store = "excel " + path;
    return c;
  }

  bool multi_writer() const override { return false; }

  Result<SinkStats> rebuild() {
    WorkbookSpec w;
    w.path = path_;
    w.table = table_.table;
    w.schema = table_.schema;
    w.order = table_.primary_key;
    if (w.order.empty())
      for (const auto& f : table_.schema.fields) w.order.push_back(f.name);
    if (per_symbol_) w.group_column = sheet_column_;
    w.sheet_name = table_.table;
    w.rows_per_sheet = sheet_rows_;
    auto built = build_workbook(con_, w);
    if (!built) return fail(wrap(built.error()));
    if (auto d = set_dirty(false); !d) return fail(d.error());
    SinkStats s;
    s.files_written = 1;
    s.partitions_materialized = built->sheets;
    return s;
  }

  bool opened() const { return opened_; }
  void set_data_dir(std::string d) { data_dir_ = std::move(d); }

 private:
  std::string where() const {
    return fmt::format("excel sink {}{}", path_.empty() ? "(workbook not yet placed)" : path_,
                       table_.table.empty() ? "" : ", table " + table_.table);
  }
  Error wrap(const Error& e) const {
    return Error{e.kind, fmt::format("{}: {}", where(), e.message), e.retry_at};
  }

  Result<void> set_dirty(bool dirty) {
    std::lock_guard lk(con_.database().write_mutex());
    auto r = con_.exec(
        fmt::format("INSERT OR REPLACE INTO main._finsync_workbooks VALUES ({}, {}, {})",
                    quote_literal(path_), quote_literal(table_.table), dirty ? "true" : "false"));
    if (!r) return fail(wrap(r.error()));
    return {};
  }

  Result<bool> is_dirty() {
    auto q = con_.query("SELECT dirty FROM main._finsync_workbooks WHERE path = " +
                        quote_literal(path_));
    if (!q) return fail(wrap(q.error()));
    return q->rows() > 0 && q->string_at(0, 0).value_or("") == "true";
  }

  std::unique_ptr<StagingSink> staging_;
  std::string spec_table_;
  std::string path_;
  bool per_symbol_;
  std::string sheet_column_;
  int64_t sheet_rows_;
  std::string data_dir_;
  TableSpec table_;
  duck::Connection con_;
  bool opened_ = false;
  bool marked_ = false;
};

Result<std::unique_ptr<Sink>> make_excel_sink(const SinkSpec& spec, const SinkContext& ctx) {
  if (auto k = check_keys(spec, {"path", "replace", "sheets", "sheet_column", "sheet_rows"}); !k)
    return fail(k.error());
  auto sheets = option_choice(spec, "sheets", {"one", "per_symbol"}, "one");
  if (!sheets) return fail(sheets.error());
  auto rows = option_int(spec, "sheet_rows", kMaxSheetRows, 1);
  if (!rows) return fail(rows.error());
  if (*rows > kMaxSheetRows)
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: {} is more data rows than a worksheet holds ({})",
                            spec.located("sheet_rows"), *rows, kMaxSheetRows));
  const std::string column = option_or(spec, "sheet_column", "");
  if (!column.empty() && *sheets != "per_symbol")
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: sheet_column applies to sheets: per_symbol",
                            spec.located("sheet_column")));
  std::string path;
  if (!spec.path.empty()) {
    fs::path p(spec.path);
    if (p.is_relative() && !ctx.data_dir.empty()) p = fs::path(ctx.data_dir) / p;
    std::error_code ec;
    fs::path a = fs::absolute(p, ec);
    path = (ec ? p : a).lexically_normal().string();
    if (fs::path(path).extension() != ".xlsx")
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: '{}' does not end in .xlsx (Excel opens workbooks by their "
                              "extension)",
                              spec.located("path"), spec.path));
    if (fs::is_directory(path, ec))
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: {} is a directory; it must name an .xlsx file",
                              spec.located("path"), path));
  } else if (ctx.data_dir.empty()) {
    return fail(ErrorKind::invalid_input,
                "the excel sink needs a path (no workspace data directory)");
  }
  // The staging table: the workspace store, with the plan's table and mode.
  SinkSpec inner;
  inner.kind = "duckdb";
  inner.table = spec.table;
  inner.mode = spec.mode;
  inner.replace = spec.replace;
  for (const char* k : {"kind", "table", "mode", "replace"})
    if (auto it = spec.where.find(k); it != spec.where.end()) inner.where[k] = it->second;
  inner.block = spec.block;
  if (ctx.staging_path.empty())
    return fail(ErrorKind::invalid_input,
                "the excel sink stages rows in the workspace staging store, and the workspace "
                "has none");
  auto staging = make_staging_sink(StagingKind::duckdb, inner, ctx);
  if (!staging) return fail(staging.error());
  auto s = std::make_unique<ExcelSink>(std::move(*staging), spec.table, std::move(path),
                                       *sheets == "per_symbol", column, *rows);
  s->set_data_dir(ctx.data_dir);
  return std::unique_ptr<Sink>(std::move(s));
}

}  // namespace

void register_excel_sink(SinkRegistry& registry) {
  registry.add("excel", make_excel_sink);
}

Result<SinkStats> export_workbook(Sink& sink) {
  auto* x = dynamic_cast<ExcelSink*>(&sink);
  if (x == nullptr)
    return fail(ErrorKind::invalid_input, "export builds workbooks: the plan's sink is not excel");
  if (!x->opened()) return fail(ErrorKind::invalid_input, "export: the excel sink is not open");
  return x->rebuild();
}

}  // namespace finsync::sink::excel
