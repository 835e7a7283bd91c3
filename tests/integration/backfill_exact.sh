#!/usr/bin/env bash
# A real backfill into Parquet, CSV and DuckDB: the landed rows, read back by an independent
# DuckDB connection, equal the emulator's truth value by value; no duplicates; at most one file
# per partition; pacing keeps every sliding window under the limit (checked from the audit log's
# arrival times); a second run lands nothing.
source "$(dirname "$0")/lib.sh"

SEED=11 SYMBOLS=12 LIMIT=30 WINDOW_S=2
start_emulator emu --seed $SEED --symbols $SYMBOLS --per-minute $LIMIT --minute-seconds $WINDOW_S
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
# The account's limit, as an override of the built-in definition.
tushare_limit "$WS" "{ scope: account, limit: $LIMIT, per: ${WINDOW_S}s }"

write_plan "$WS/plans/pq.yaml" daily-pq parquet 2015-01-01 2016-12-31 "split: { window: 3m }"
write_plan "$WS/plans/csv.yaml" daily-csv csv 2015-01-01 2016-12-31
write_plan "$WS/plans/db.yaml" daily-db duckdb 2015-01-01 2016-12-31

"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20150101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
[[ $TRUTH_ROWS -gt 3000 ]] || fail "truth has only $TRUTH_ROWS rows"

# One run after another with no pause: each process starts from the quota ledger the previous
# one left in the state store, so the provider's window is never exceeded across them.
for p in pq csv db; do
  "$FINSYNC" -w "$WS" run "$WS/plans/$p.yaml" >"$WORK/run-$p.out" 2>"$WORK/run-$p.err" ||
    fail "run $p exited $?: $(tail -5 "$WORK/run-$p.err")"
done
DB="$WS/data/finsync.duckdb"

# Values, exactly, from each sink.
canonical_from :memory: "read_parquet('$WS/data/daily-pq/**/*.parquet', hive_partitioning = true)" >"$WORK/pq.csv"
diff -q "$WORK/truth.csv" "$WORK/pq.csv" >/dev/null || fail "parquet differs from truth: $(diff "$WORK/truth.csv" "$WORK/pq.csv" | head -5)"
canonical_from :memory: "read_csv('$WS/data/daily-csv/**/*.csv', hive_partitioning = true, header = true, types = {'trade_date': 'DATE', 'ts_code': 'VARCHAR'})" >"$WORK/csv.csv"
diff -q "$WORK/truth.csv" "$WORK/csv.csv" >/dev/null || fail "csv differs from truth: $(diff "$WORK/truth.csv" "$WORK/csv.csv" | head -5)"
canonical_from "$DB" daily_db >"$WORK/db.csv"
diff -q "$WORK/truth.csv" "$WORK/db.csv" >/dev/null || fail "duckdb differs from truth"

# No duplicates by key in the files.
dups=$("$DUCKDB_READ" :memory: "SELECT count(*) - count(DISTINCT (ts_code, trade_date)) FROM read_parquet('$WS/data/daily-pq/**/*.parquet')" | tail -1)
assert_eq 0 "$dups" "duplicate keys in parquet"

# Files: one per (symbol, year) partition, nothing else left behind.
partitions=$("$DUCKDB_READ" :memory: "SELECT count(DISTINCT (ts_code, year(trade_date))) FROM read_parquet('$WS/data/daily-pq/**/*.parquet')" | tail -1)
files=$(find "$WS/data/daily-pq" -type f | wc -l)
assert_eq "$partitions" "$files" "parquet files vs partitions"
find "$WS/data/daily-pq" -type f ! -name data.parquet | grep -q . && fail "stray files: $(find "$WS/data/daily-pq" -type f ! -name data.parquet | head -3)"
csv_files=$(find "$WS/data/daily-csv" -type f -name data.csv | wc -l)
assert_eq "$partitions" "$csv_files" "csv files vs partitions"

# Pacing: no limit error, and no window of WINDOW_S seconds holds more than LIMIT arrivals.
grep -q '"outcome":"rate_limited' "$emu_AUDIT" && fail "the emulator answered a limit error"
over=$(grep -o '"t":[0-9.]*' "$emu_AUDIT" | cut -d: -f2 | sort -n |
  awk -v w=$WINDOW_S -v lim=$LIMIT '{ t[NR] = $1 } END { j = 1; worst = 0
    for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= w) j++; if (i - j + 1 > worst) worst = i - j + 1 }
    print (worst > lim) ? worst : 0 }')
assert_eq 0 "$over" "largest number of requests in a ${WINDOW_S}s window above $LIMIT"
pq_requests=$(grep -c '"api_name":"daily"' "$emu_AUDIT")
[[ $pq_requests -gt $LIMIT ]] || fail "only $pq_requests daily requests: pacing was not exercised"

# The report agrees with what was landed.
rows=$("$FINSYNC" -w "$WS" report daily-pq --json | grep '"rows"' | head -1 | tr -dc 0-9)
assert_eq "$TRUTH_ROWS" "$rows" "rows in the report of daily-pq"

# A second run lands nothing and says so; it re-sends no data request.
before=$(wc -l <"$emu_AUDIT")
"$FINSYNC" -w "$WS" run daily-pq >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
grep -q "nothing new" "$WORK/run2.out" || fail "second run did not say nothing new: $(cat "$WORK/run2.out")"
new_daily=$(tail -n +$((before + 1)) "$emu_AUDIT" | grep -c '"api_name":"daily"' || true)
assert_eq 0 "$new_daily" "daily requests in the second run"
canonical_from :memory: "read_parquet('$WS/data/daily-pq/**/*.parquet', hive_partitioning = true)" >"$WORK/pq2.csv"
diff -q "$WORK/truth.csv" "$WORK/pq2.csv" >/dev/null || fail "parquet changed after the second run"
echo "backfill_exact: ok ($TRUTH_ROWS rows, $files files, $pq_requests daily requests)"
