#include "sink/schema_diff.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace finsync::sink {
namespace {

std::string shape_text(const ColumnShape& c) {
  return c.nullable ? c.type : c.type + " NOT NULL";
}

const ColumnShape* find(const std::vector<ColumnShape>& cols, const std::string& name) {
  for (const auto& c : cols)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

bool same_type_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

SchemaDiff diff_tables(const TableShape& expected, const TableShape& found,
                       const SameType& same_type) {
  SchemaDiff d;
  for (const auto& e : expected.columns) {
    const ColumnShape* f = find(found.columns, e.name);
    if (f == nullptr) {
      d.missing.push_back(e);
    } else if (!same_type(e.type, f->type) || e.nullable != f->nullable) {
      d.changed.push_back({e, *f});
    }
  }
  for (const auto& f : found.columns)
    if (find(expected.columns, f.name) == nullptr) d.extra.push_back(f);
  if (expected.key != found.key) {
    d.key_differs = true;
    d.key_expected = expected.key;
    d.key_found = found.key;
  }
  return d;
}

std::vector<std::string> SchemaDiff::lines() const {
  std::vector<std::string> out;
  for (const auto& c : missing)
    out.push_back(fmt::format("missing column {} {}", c.name, shape_text(c)));
  for (const auto& c : extra)
    out.push_back(
        fmt::format("extra column {} {} (not in the plan's schema)", c.name, shape_text(c)));
  for (const auto& c : changed)
    out.push_back(fmt::format("column {}: expected {}, found {}", c.expected.name,
                              shape_text(c.expected), shape_text(c.found)));
  if (key_differs)
    out.push_back(fmt::format("primary key: expected ({}), found ({})",
                              fmt::join(key_expected, ", "), fmt::join(key_found, ", ")));
  return out;
}

DriftPlan plan_drift(const SchemaDiff& diff, SchemaDrift policy,
                     const std::vector<std::string>& key) {
  DriftPlan d;
  if (policy == SchemaDrift::fail) {
    d.blocking = diff.lines();
    return d;
  }
  for (const auto& m : diff.missing) {
    if (std::find(key.begin(), key.end(), m.name) != key.end())
      d.blocking.push_back(fmt::format(
          "missing key column {} {} (evolve adds only nullable non-key columns)", m.name, m.type));
    else
      d.add.push_back(m);
  }
  for (const auto& e : diff.extra)
    if (!e.nullable)
      d.blocking.push_back(fmt::format(
          "extra column {} {} NOT NULL (not in the plan's schema: rows could not be inserted)",
          e.name, e.type));
  SchemaDiff rest;
  rest.changed = diff.changed;
  rest.key_differs = diff.key_differs;
  rest.key_expected = diff.key_expected;
  rest.key_found = diff.key_found;
  for (auto& l : rest.lines()) d.blocking.push_back(std::move(l));
  return d;
}

std::string describe(const std::vector<ColumnShape>& columns) {
  std::vector<std::string> parts;
  for (const auto& c : columns) parts.push_back(c.name + " " + shape_text(c));
  return fmt::format("({})", fmt::join(parts, ", "));
}

Result<void> validate_table(const TableSpec& t, WriteMode mode, std::string_view target) {
  constexpr std::string_view kReserved = "_finsync_";
  auto reserved = [&](std::string_view n) { return n.substr(0, kReserved.size()) == kReserved; };
  if (t.table.empty())
    return fail(ErrorKind::invalid_input, fmt::format("{}: the table name is empty", target));
  if (reserved(t.table))
    return fail(
        ErrorKind::invalid_input,
        fmt::format("{}: table name '{}' is reserved for finsync bookkeeping", target, t.table));
  if (t.schema.fields.empty())
    return fail(ErrorKind::invalid_input, fmt::format("{}: the schema has no columns", target));
  std::set<std::string> seen;
  for (const auto& f : t.schema.fields)
    if (f.name.empty() || reserved(f.name) || !seen.insert(f.name).second)
      return fail(
          ErrorKind::invalid_input,
          fmt::format("{}: column name '{}' is empty, duplicated or reserved", target, f.name));
  std::set<std::string> key_seen;
  for (const auto& k : t.primary_key)
    if (t.schema.index_of(k) < 0 || !key_seen.insert(k).second)
      return fail(
          ErrorKind::invalid_input,
          fmt::format("{}: primary key column '{}' is not in the schema (or repeated)", target, k));
  if (mode == WriteMode::upsert && t.primary_key.empty())
    return fail(
        ErrorKind::invalid_input,
        fmt::format("{}: mode upsert needs a primary key; use mode append or replace", target));
  return {};
}

}  // namespace finsync::sink
