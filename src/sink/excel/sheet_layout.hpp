#pragma once
// Which worksheet each row of a workbook goes to. Excel's rules for sheet names: at most 31
// characters (UTF-16 units), none of []:*?/\, not starting or ending with an apostrophe, not
// empty, not "History" (reserved), unique ignoring case. A sheet holds 1,048,576 rows, the
// header included, so a group with more data rows continues on "NAME (2)", "NAME (3)", ...
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace finsync::sink::excel {

inline constexpr int64_t kMaxSheetRows = 1'048'575;  // data rows under the header
inline constexpr size_t kMaxSheetName = 31;

// A valid sheet name from any text: forbidden characters become '_', apostrophes at either end
// are dropped, the result is cut to 31 UTF-16 units without splitting a character (invalid UTF-8
// bytes become '_'), an empty name is "_" and "History" (any case) is "History_".
std::string sanitize_sheet_name(std::string_view raw);

// Sheet names handed out so far; `unique` returns the sanitized name, or "NAME (2)", "NAME (3)",
// ... (NAME shortened to fit 31) when one equal ignoring ASCII case is taken.
class SheetNames {
 public:
  std::string unique(std::string_view raw);

 private:
  std::set<std::string> taken_;  // lower-cased
};

// Places rows on sheets. Rows arrive grouped (all rows of one group in a row); each group starts
// a sheet named after it, and a sheet that holds `rows_per_sheet` data rows is continued on a
// new one.
class SheetSplit {
 public:
  explicit SheetSplit(int64_t rows_per_sheet = kMaxSheetRows) : limit_(rows_per_sheet) {}
  // The next row of `group`: the name of the sheet to start for it, or nullopt when it goes on
  // the current sheet.
  std::optional<std::string> next(std::string_view group);
  // The row the last row placed takes on its sheet: 1 for the first data row (0 is the header).
  int64_t row() const { return row_; }
  int sheets() const { return sheets_; }

 private:
  int64_t limit_;
  SheetNames names_;
  std::string group_;
  int64_t row_ = 0;
  int sheets_ = 0;
};

}  // namespace finsync::sink::excel
