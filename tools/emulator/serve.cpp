#include "serve.hpp"

#include <cstdio>
#include <exception>
#include <memory>

#include "alphavantage_personality.hpp"
#include "audit_log.hpp"
#include "binance_personality.hpp"
#include "chaos.hpp"
#include "crypto_market.hpp"
#include "http_server.hpp"
#include "polygon_personality.hpp"
#include "tushare_personality.hpp"
#include "us_market.hpp"
#include "world.hpp"

namespace emu {

namespace {

std::shared_ptr<Personality> make_personality(const ServeOptions& o, std::shared_ptr<Chaos> chaos) {
  // Each personality builds only the market it serves.
  if (o.personality == "alphavantage") {
    AlphaVantageConfig config;
    config.apikey = o.token;
    config.per_minute = o.per_minute;
    config.per_day = o.per_day;
    config.minute_seconds = o.minute_seconds;
    config.day_seconds = o.day_seconds;
    config.note_style = o.limit_style == "note";
    return std::make_shared<AlphaVantagePersonality>(
        std::make_shared<const UsMarket>(o.seed, o.symbols, o.last_date), config, std::move(chaos));
  }
  if (o.personality == "polygon") {
    PolygonConfig config;
    config.apikey = o.token;
    config.per_minute = o.per_minute;
    config.per_day = o.per_day;
    config.minute_seconds = o.minute_seconds;
    config.day_seconds = o.day_seconds;
    config.plan_history_days = o.plan_history_days;
    config.plan_tickers = o.plan_tickers;
    config.scheme = o.tls_cert.empty() ? "http" : "https";
    return std::make_shared<PolygonPersonality>(
        std::make_shared<const UsMarket>(o.seed, o.symbols, o.last_date), config, std::move(chaos));
  }
  if (o.personality == "binance") {
    BinanceConfig config;
    config.weight_limit = o.weight_limit;
    config.minute_seconds = o.minute_seconds;
    return std::make_shared<BinancePersonality>(
        std::make_shared<const CryptoMarket>(o.seed, o.symbols, o.last_date), config,
        std::move(chaos));
  }
  TushareConfig config;
  config.token = o.token;
  config.row_cap = o.row_cap;
  config.max_codes = o.max_codes;
  config.per_minute = o.per_minute;
  config.per_day = o.per_day;
  config.minute_seconds = o.minute_seconds;
  config.day_seconds = o.day_seconds;
  return std::make_shared<TusharePersonality>(
      std::make_shared<const World>(o.seed, o.symbols, o.last_date, o.release, o.calendar), config,
      std::move(chaos));
}

}  // namespace

int run_serve(const ServeOptions& o) {
  std::shared_ptr<AuditLog> audit;
  if (!o.audit_log.empty()) {
    try {
      audit = std::make_shared<AuditLog>(o.audit_log, o.token);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "finsync-emulator: %s\n", e.what());
      return 2;
    }
  }
  ChaosConfig chaos_config;
  chaos_config.seed = o.chaos_seed;
  chaos_config.error_rate = o.error_rate;
  chaos_config.drop_rate = o.drop_rate;
  chaos_config.truncate_rate = o.truncate_rate;
  auto chaos = std::make_shared<Chaos>(chaos_config);

  ServerConfig server;
  server.host = o.host;
  server.port = o.port;
  server.port_file = o.port_file;
  server.tls_cert = o.tls_cert;
  server.tls_key = o.tls_key;
  server.latency_ms = o.latency_ms;
  server.hang = o.hang;
  server.threads = o.threads;
  return run_server(server, make_personality(o, std::move(chaos)), std::move(audit));
}

}  // namespace emu
